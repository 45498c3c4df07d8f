package slots

// Count is the number of hash slots in a Redis cluster.
const Count = 16384

// slotMask reduces a CRC16 to a slot number (Count is a power of two).
const slotMask = Count - 1

// Slot returns the hash slot of key, following Redis's keyHashSlot: if the
// key contains a '{' and, after the first '{', a '}' with at least one byte
// between them, only the bytes between that first '{' and the first '}'
// after it are hashed (the "hash tag"); otherwise the whole key is hashed.
// Slot does not allocate.
func Slot(key []byte) int {
	return hashSlot(key)
}

// SlotString is Slot for a string key. It does not allocate.
func SlotString(key string) int {
	return hashSlot(key)
}

func hashSlot[T ~string | ~[]byte](key T) int {
	n := len(key)
	open := 0
	for open < n && key[open] != '{' {
		open++
	}
	if open < n {
		end := open + 1
		for end < n && key[end] != '}' {
			end++
		}
		// A tag needs a closing brace and at least one byte inside it;
		// "foo{}{bar}" therefore hashes the whole key, like Redis.
		if end < n && end > open+1 {
			return int(crc16(key, open+1, end) & slotMask)
		}
	}
	return int(crc16(key, 0, n) & slotMask)
}
