package checker

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
)

// Values arrive as Go values when a history is built in memory (int64,
// []int64, map[string]int64, ...) and as JSON-decoded values when it is
// read back from a file (float64, []any, map[string]any). The helpers
// below accept both; the common types take a fast path and anything else
// of integer, float, slice, array or string-keyed map kind goes through
// reflect.

// toInt converts an integer value (any integer type, an integral float,
// a json.Number) to int64.
func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		return floatToInt(x)
	case int32:
		return int64(x), nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return floatToInt(f)
	case nil:
		return 0, fmt.Errorf("missing value (nil), want an integer")
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return 0, fmt.Errorf("%d overflows int64", u)
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return floatToInt(rv.Float())
	}
	return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
}

func floatToInt(f float64) (int64, error) {
	// -2^63 is exact as a float64; 2^63 is the first value out of range.
	if f != math.Trunc(f) || f < -9223372036854775808.0 || f >= 9223372036854775808.0 {
		return 0, fmt.Errorf("%v is not an int64 integer", f)
	}
	return int64(f), nil
}

// toInts converts a list of integers ([]int64, []int, []any of numbers,
// []float64, any slice or array of integer kind). nil is the empty list.
func toInts(v any) ([]int64, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []int64:
		return x, nil
	case []any:
		out := make([]int64, len(x))
		for i, e := range x {
			n, err := toInt(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	case []int:
		out := make([]int64, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		out := make([]int64, rv.Len())
		for i := range out {
			n, err := toInt(rv.Index(i).Interface())
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("%v (%T) is not a list of integers", v, v)
}

// toIntMap converts a map from string keys to integers
// (map[string]int64, map[string]any, map[string]float64, any map of
// string-kind keys to integer values). nil is the empty map; a nil
// value in the map counts as 0 (a missing key).
func toIntMap(v any) (map[string]int64, error) {
	switch x := v.(type) {
	case nil:
		return map[string]int64{}, nil
	case map[string]int64:
		return x, nil
	case map[string]any:
		out := make(map[string]int64, len(x))
		for k, e := range x {
			if e == nil {
				out[k] = 0
				continue
			}
			n, err := toInt(e)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			out[k] = n
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, fmt.Errorf("%v (%T) is not a map from strings to integers", v, v)
	}
	out := make(map[string]int64, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		k := it.Key().String()
		e := it.Value()
		if (e.Kind() == reflect.Interface || e.Kind() == reflect.Pointer) && e.IsNil() {
			out[k] = 0
			continue
		}
		if e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		n, err := toInt(e.Interface())
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out[k] = n
	}
	return out, nil
}
