package register

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/troika-db/troika/jepsen/history"
)

// Op names (history.Op.F).
const (
	Read  = "read"
	Write = "write"
	CAS   = "cas"
)

// input is an operation as the model sees it.
type input struct {
	key   string
	f     string
	value int64 // write: the value; cas: the new value
	from  int64 // cas: the expected value
}

// output is an operation's result; known is false for info completions.
type output struct {
	known bool
	value *int64 // read: the value read (nil: the key was never written)
	ok    bool   // cas: whether it applied
}

// state is one register: nil until written.
type state struct {
	set   bool
	value int64
}

var model = (&porcupine.NondeterministicModel{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range ops {
			k := op.Input.(input).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{state{}} },
	Step: func(st, in, out interface{}) []interface{} {
		s, i, o := st.(state), in.(input), out.(output)
		switch i.f {
		case Read:
			if !o.known {
				return []interface{}{s}
			}
			if (o.value == nil && !s.set) || (o.value != nil && s.set && *o.value == s.value) {
				return []interface{}{s}
			}
			return nil
		case Write:
			// Known or not, a write that happened sets the value; one that
			// never happened is represented by its absence (info writes
			// may also not apply: both states).
			if o.known {
				return []interface{}{state{set: true, value: i.value}}
			}
			return []interface{}{state{set: true, value: i.value}, s}
		case CAS:
			match := s.set && s.value == i.from
			switch {
			case !o.known && match:
				return []interface{}{state{set: true, value: i.value}, s}
			case !o.known:
				return []interface{}{s}
			case o.ok && match:
				return []interface{}{state{set: true, value: i.value}}
			case !o.ok && !match:
				return []interface{}{s}
			}
			return nil
		}
		return nil
	},
	DescribeOperation: func(in, out interface{}) string {
		i, o := in.(input), out.(output)
		res := "?"
		if o.known {
			switch i.f {
			case Read:
				res = "nil"
				if o.value != nil {
					res = fmt.Sprint(*o.value)
				}
			case Write:
				res = "ok"
			case CAS:
				res = fmt.Sprint(o.ok)
			}
		}
		switch i.f {
		case Write:
			return fmt.Sprintf("%s: write(%d) -> %s", i.key, i.value, res)
		case CAS:
			return fmt.Sprintf("%s: cas(%d, %d) -> %s", i.key, i.from, i.value, res)
		}
		return fmt.Sprintf("%s: read() -> %s", i.key, res)
	},
	DescribeState: func(st interface{}) string {
		s := st.(state)
		if !s.set {
			return "nil"
		}
		return fmt.Sprint(s.value)
	},
}).ToModel()

// Result is the outcome of a check.
type Result struct {
	// Valid is true when every key's history is linearizable.
	Valid bool
	// Unknown is true when the search ran out of time before deciding.
	Unknown bool
	// Ops is the number of operations checked (fail ops and reads of
	// unknown result are left out).
	Ops int
	// Keys lists, for an invalid history, the keys whose own history is
	// not linearizable (at most 16), with the time span of their
	// operations, for the summary.
	Keys []KeyFailure
	info porcupine.LinearizationInfo
}

// KeyFailure is one key whose history is not linearizable.
type KeyFailure struct {
	Key string
	Ops int
	// From and To are the invocation time of its first operation and the
	// latest completion (ns since the test started).
	From, To int64
}

// Check runs porcupine over ops (a register workload's history), giving up
// after timeout (0: no limit).
func Check(ops []history.Op, timeout time.Duration) (Result, error) {
	pairs, err := history.Pairs(ops)
	if err != nil {
		return Result{}, err
	}
	var pops []porcupine.Operation
	for _, p := range pairs {
		op, keep, err := convert(p)
		if err != nil {
			return Result{}, err
		}
		if keep {
			pops = append(pops, op)
		}
	}
	res, info := porcupine.CheckOperationsVerbose(model, pops, timeout)
	r := Result{Valid: res == porcupine.Ok, Unknown: res == porcupine.Unknown, Ops: len(pops), info: info}
	if res == porcupine.Illegal {
		r.Keys = failingKeys(pops)
	}
	return r, nil
}

// failingKeys checks each key's operations on their own and returns the
// keys that are not linearizable.
func failingKeys(pops []porcupine.Operation) []KeyFailure {
	by := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range pops {
		k := op.Input.(input).key
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], op)
	}
	sort.Strings(keys)
	var out []KeyFailure
	for _, k := range keys {
		ops := by[k]
		if porcupine.CheckOperationsTimeout(model, ops, 10*time.Second) != porcupine.Illegal {
			continue
		}
		f := KeyFailure{Key: k, Ops: len(ops), From: math.MaxInt64}
		for _, op := range ops {
			f.From = min(f.From, op.Call)
			if op.Return != math.MaxInt64 {
				f.To = max(f.To, op.Return)
			}
		}
		out = append(out, f)
		if len(out) == 16 {
			break
		}
	}
	return out
}

// Visualize writes porcupine's HTML visualization of the last check (the
// partial linearizations that explain a failure).
func (r Result) Visualize(w io.Writer) error {
	return porcupine.Visualize(model, r.info, w)
}

func convert(p history.Pair) (porcupine.Operation, bool, error) {
	inv := p.Invoke
	in := input{key: inv.Key, f: inv.F}
	switch inv.F {
	case Write:
		v, err := asInt(inv.Value)
		if err != nil {
			return porcupine.Operation{}, false, fmt.Errorf("op %d: write value: %w", inv.Index, err)
		}
		in.value = v
	case CAS:
		pair, ok := inv.Value.([]any)
		if !ok || len(pair) != 2 {
			return porcupine.Operation{}, false, fmt.Errorf("op %d: cas value must be [expected, new]", inv.Index)
		}
		from, err1 := asInt(pair[0])
		to, err2 := asInt(pair[1])
		if err1 != nil || err2 != nil {
			return porcupine.Operation{}, false, fmt.Errorf("op %d: cas values must be integers", inv.Index)
		}
		in.from, in.value = from, to
	case Read:
	default:
		return porcupine.Operation{}, false, fmt.Errorf("op %d: unknown f %q", inv.Index, inv.F)
	}
	op := porcupine.Operation{ClientId: inv.Process, Input: in, Call: inv.Time, Return: math.MaxInt64}
	c := p.Complete
	switch {
	case c == nil || c.Type == history.Info:
		if inv.F == Read {
			return op, false, nil // an unknown read constrains nothing
		}
		op.Output = output{}
	case c.Type == history.Fail:
		return op, false, nil // certainly did not happen
	default:
		op.Return = c.Time
		o := output{known: true}
		switch inv.F {
		case Read:
			if c.Value != nil {
				v, err := asInt(c.Value)
				if err != nil {
					return op, false, fmt.Errorf("op %d: read value: %w", c.Index, err)
				}
				o.value = &v
			}
		case CAS:
			ok, isBool := c.Value.(bool)
			if !isBool {
				// An ok cas completion applied: Jepsen records a failed
				// comparison as fail, so ok means it applied.
				ok = true
			}
			o.ok = ok
		}
		op.Output = o
	}
	return op, true, nil
}

func asInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	}
	return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
}
