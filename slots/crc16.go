package slots

// crc16Poly is the CCITT polynomial x^16 + x^12 + x^5 + 1 used by Redis
// (non-reflected, initial value 0, no final XOR: the XMODEM variant).
const crc16Poly = 0x1021

// crc16Table holds the CRC of every possible leading byte, so the main loop
// processes one byte per table lookup instead of eight shift/XOR steps.
var crc16Table = makeCRC16Table()

func makeCRC16Table() [256]uint16 {
	var t [256]uint16
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ crc16Poly
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}

// CRC16 returns the CRC16-CCITT (XMODEM) checksum of b, exactly as Redis's
// crc16.c computes it. CRC16([]byte("123456789")) == 0x31C3.
func CRC16(b []byte) uint16 {
	return crc16(b, 0, len(b))
}

// crc16 checksums key[from:to] without slicing, so it serves both strings
// and byte slices without converting (and so without allocating).
func crc16[T ~string | ~[]byte](key T, from, to int) uint16 {
	var c uint16
	for i := from; i < to; i++ {
		c = c<<8 ^ crc16Table[byte(c>>8)^key[i]]
	}
	return c
}
