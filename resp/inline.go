package resp

import "github.com/troika-db/troika/fsm"

// splitArgs splits an inline request line with Redis's sdssplitargs rules
// (fsm.SplitArgs, shared with the redis.conf parser). ok is false for
// unbalanced quotes.
func splitArgs(line []byte) (args [][]byte, ok bool) {
	words, err := fsm.SplitArgs(string(line))
	if err != nil {
		return nil, false
	}
	args = make([][]byte, len(words))
	for i, w := range words {
		args[i] = []byte(w)
	}
	return args, true
}
