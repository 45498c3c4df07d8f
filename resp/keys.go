package resp

import (
	"bytes"
	"strconv"

	"github.com/troika-db/troika/slots"
)

// keyRef is one key found in a request: its position in argv and the
// flags of the key spec that found it.
type keyRef struct {
	pos   int
	flags []string
}

// getKeys extracts the keys of argv (argv[0] is the command name) using the
// command's key specs, exactly as Redis 7.0's getKeysUsingKeySpecs does
// with GET_KEYSPEC_DEFAULT. ok is false when a spec does not match argv
// (Redis then reports no keys at all).
func (c *Command) getKeys(argv [][]byte, dst []keyRef) (keys []keyRef, ok bool) {
	argc := len(argv)
	keys = dst[:0]
	if c.Name == "set" && argc >= 3 {
		// SET's key spec has variable_flags; Redis's setGetKeys decides
		// them: the GET option makes the key read too.
		flags := setKeyFlagsOW
		for _, a := range argv[3:] {
			if bytes.EqualFold(a, []byte("get")) {
				flags = setKeyFlagsRW
				break
			}
		}
		return append(keys, keyRef{pos: 1, flags: flags}), true
	}
	for i := range c.KeySpecs {
		spec := &c.KeySpecs[i]
		if hasWord(spec.Flags, "not_key") {
			continue
		}
		first := 0
		switch spec.Begin.Type {
		case "index":
			first = spec.Begin.Index
		case "keyword":
			first = findKeyword(argv, spec.Begin.Keyword, spec.Begin.StartFrom)
			if first == 0 {
				continue // keyword absent: this spec finds nothing
			}
		default:
			return nil, false
		}
		var last, step int
		switch spec.Find.Type {
		case "range":
			step = spec.Find.KeyStep
			switch {
			case spec.Find.LastKey >= 0:
				last = first + spec.Find.LastKey
			case spec.Find.Limit == 0:
				last = argc + spec.Find.LastKey
			default:
				last = first + (argc-first)/spec.Find.Limit + spec.Find.LastKey
			}
		case "keynum":
			step = spec.Find.KeyStep
			idx := first + spec.Find.KeyNumIdx
			if idx >= argc {
				return nil, false
			}
			n, err := strconv.ParseInt(string(argv[idx]), 10, 32)
			if err != nil || n < 0 {
				return nil, false
			}
			first += spec.Find.FirstKey
			last = first + int(n) - 1
		default:
			return nil, false
		}
		if last >= argc || last < first || first >= argc || step <= 0 {
			return nil, false
		}
		for p := first; p <= last; p += step {
			keys = append(keys, keyRef{pos: p, flags: spec.Flags})
		}
	}
	return keys, true
}

var (
	setKeyFlagsOW = []string{"OW", "update"}
	setKeyFlagsRW = []string{"RW", "access", "update"}
)

// findKeyword returns the position after keyword, searching from startFrom
// (negative: counted from the end, searching backwards), or 0.
func findKeyword(argv [][]byte, keyword string, startFrom int) int {
	argc := len(argv)
	start, end := startFrom, argc-1
	if startFrom <= 0 {
		start, end = argc+startFrom, 0
	}
	for i := start; i != end; {
		if i >= argc || i < 0 {
			break
		}
		if bytes.EqualFold(argv[i], []byte(keyword)) {
			return i + 1
		}
		if start <= end {
			i++
		} else {
			i--
		}
	}
	return 0
}

func hasWord(list []string, w string) bool {
	for _, s := range list {
		if s == w {
			return true
		}
	}
	return false
}

// keySlot returns the common hash slot of the keys, or -1 when there are
// none; crossSlot is true when two keys hash to different slots.
func keySlot(argv [][]byte, keys []keyRef) (slot int, crossSlot bool) {
	slot = -1
	for _, k := range keys {
		s := slots.Slot(argv[k.pos])
		if slot >= 0 && s != slot {
			return slot, true
		}
		slot = s
	}
	return slot, false
}

// commandSlot returns the slot of the keys cmd names in args (-1 when it
// names none or its keys cannot be found) and whether they span slots
// (CROSSSLOT). It reuses the connection's key buffer.
func (c *conn) commandSlot(cmd *Command, args [][]byte) (slot int, cross bool) {
	keys, ok := cmd.getKeys(args, c.keyBuf)
	c.keyBuf = keys[:0]
	if !ok {
		return -1, false
	}
	return keySlot(args, keys)
}
