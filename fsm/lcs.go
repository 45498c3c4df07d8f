package fsm

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN], as Redis 7.0
// implements it (t_string.c lcsCommand): the classic dynamic-programming
// table, walked back from the end, so the matches are reported from the
// last one to the first, exactly in Redis's order.

func runLCS(db *DB, args [][]byte) Reply {
	if len(args) < 3 {
		return ErrReply(wrongArgs("lcs"))
	}
	a, _, wrongA := db.GetString(string(args[1]))
	b, _, wrongB := db.GetString(string(args[2]))
	if wrongA || wrongB {
		return Err(CodeLCSNotString)
	}
	var getLen, getIdx, withMatchLen bool
	var minMatchLen int64
	for j := 3; j < len(args); j++ {
		opt := args[j]
		switch {
		case EqualFold(opt, "idx"):
			getIdx = true
		case EqualFold(opt, "len"):
			getLen = true
		case EqualFold(opt, "withmatchlen"):
			withMatchLen = true
		case EqualFold(opt, "minmatchlen") && j+1 < len(args):
			n, ok := ParseInt(args[j+1])
			if !ok {
				return Err(CodeNotInt)
			}
			minMatchLen = max(n, 0)
			j++
		default:
			return Err(CodeSyntax)
		}
	}
	if getIdx && getLen {
		return Err(CodeLCSOpts)
	}
	alen, blen := len(a), len(b)
	// Redis refuses a table larger than proto-max-bulk-len.
	if uint64(alen+1)*uint64(blen+1)*4 > maxStringLen {
		return Err(CodeLCSMemory)
	}
	width := blen + 1
	lcs := make([]uint32, (alen+1)*width)
	for i := 1; i <= alen; i++ {
		row, prev := lcs[i*width:(i+1)*width], lcs[(i-1)*width:i*width]
		for j := 1; j <= blen; j++ {
			switch {
			case a[i-1] == b[j-1]:
				row[j] = prev[j-1] + 1
			case prev[j] > row[j-1]:
				row[j] = prev[j]
			default:
				row[j] = row[j-1]
			}
		}
	}
	total := lcs[alen*width+blen]
	if getLen && !getIdx {
		return Int(int64(total))
	}

	result := make([]byte, total)
	idx := total
	matches := []Reply{}
	// aStart == alen means "no range being tracked".
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0
	for i, j := alen, blen; i > 0 && j > 0; {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			switch {
			case aStart == alen:
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			case aStart == i && bStart == j: // contiguous: extend backwards
				aStart--
				bStart--
			default:
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if lcs[(i-1)*width+j] > lcs[i*width+j-1] {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		if emit {
			matchLen := int64(aEnd - aStart + 1)
			if getIdx && (minMatchLen == 0 || matchLen >= minMatchLen) {
				m := []Reply{
					Array(Int(int64(aStart)), Int(int64(aEnd))),
					Array(Int(int64(bStart)), Int(int64(bEnd))),
				}
				if withMatchLen {
					m = append(m, Int(matchLen))
				}
				matches = append(matches, Array(m...))
			}
			aStart = alen
		}
	}
	if getIdx {
		return Reply{Kind: KindMap, Arr: []Reply{
			Bulk("matches"), {Kind: KindArray, Arr: matches},
			Bulk("len"), Int(int64(total)),
		}}
	}
	return Bulk(string(result))
}
