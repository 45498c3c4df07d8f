package report

import (
	"image"
	"image/color"
)

// canvas is a thin set of drawing primitives over an RGBA image; all of
// them clip to the image bounds.
type canvas struct {
	img *image.RGBA
}

func newCanvas(w, h int, bg color.RGBA) *canvas {
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h))}
	c.fill(c.img.Rect, bg)
	return c
}

func (c *canvas) set(x, y int, col color.RGBA) {
	if (image.Point{x, y}).In(c.img.Rect) {
		c.img.SetRGBA(x, y, col)
	}
}

// blendOver returns src at opacity a (0-255) painted over dst.
func blendOver(dst, src color.RGBA, a uint8) color.RGBA {
	mix := func(d, s uint8) uint8 {
		return uint8((int(s)*int(a) + int(d)*(255-int(a)) + 127) / 255)
	}
	return color.RGBA{mix(dst.R, src.R), mix(dst.G, src.G), mix(dst.B, src.B), 255}
}

func (c *canvas) fill(r image.Rectangle, col color.RGBA) {
	r = r.Intersect(c.img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c.img.SetRGBA(x, y, col)
		}
	}
}

// blendRect paints col at opacity a over r.
func (c *canvas) blendRect(r image.Rectangle, col color.RGBA, a uint8) {
	r = r.Intersect(c.img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c.img.SetRGBA(x, y, blendOver(c.img.RGBAAt(x, y), col, a))
		}
	}
}

// outline draws the 1-pixel border of r (inside r).
func (c *canvas) outline(r image.Rectangle, col color.RGBA) {
	c.fill(image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), col)
	c.fill(image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), col)
	c.fill(image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), col)
	c.fill(image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), col)
}

// line draws a straight line with a square pen of the given width
// (Bresenham).
func (c *canvas) line(x0, y0, x1, y1 int, col color.RGBA, width int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	lo := -(width - 1) / 2
	for {
		for oy := lo; oy < lo+width; oy++ {
			for ox := lo; ox < lo+width; ox++ {
				c.set(x0+ox, y0+oy, col)
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

// text draws s with its top-left corner at (x, y); it returns the width.
func (c *canvas) text(x, y int, s string, scale int, col color.RGBA) int {
	cx := x
	for _, r := range s {
		g := glyph(r)
		for row := 0; row < glyphH; row++ {
			for bit := 0; bit < glyphW; bit++ {
				if g[row]&(0x10>>bit) != 0 {
					c.fill(image.Rect(cx+bit*scale, y+row*scale, cx+(bit+1)*scale, y+(row+1)*scale), col)
				}
			}
		}
		cx += glyphAdv * scale
	}
	return cx - x
}

// textUp draws s rotated a quarter turn anticlockwise (read bottom to
// top), with the bottom-left corner of its first glyph at (x, y).
func (c *canvas) textUp(x, y int, s string, scale int, col color.RGBA) {
	cy := y
	for _, r := range s {
		g := glyph(r)
		for row := 0; row < glyphH; row++ {
			for bit := 0; bit < glyphW; bit++ {
				if g[row]&(0x10>>bit) != 0 {
					px, py := x+row*scale, cy-(bit+1)*scale
					c.fill(image.Rect(px, py, px+scale, py+scale), col)
				}
			}
		}
		cy -= glyphAdv * scale
	}
}

// Marker shapes, cycled through for the distinct operation functions.
const (
	shapeCircle = iota
	shapeSquare
	shapeTriangle
	shapeDiamond
	shapeTriangleDown
	shapePlus
	numShapes
)

// marker draws a filled marker of the given shape and radius centred on
// (x, y).
func (c *canvas) marker(x, y, shape, r int, col color.RGBA) {
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			var in bool
			switch shape % numShapes {
			case shapeCircle:
				in = dx*dx+dy*dy <= r*r+r/2
			case shapeSquare:
				in = abs(dx) < r && abs(dy) < r
			case shapeTriangle:
				in = 2*abs(dx) <= dy+r
			case shapeDiamond:
				in = abs(dx)+abs(dy) <= r
			case shapeTriangleDown:
				in = 2*abs(dx) <= r-dy
			case shapePlus:
				in = 3*abs(dx) <= r || 3*abs(dy) <= r
			}
			if in {
				c.set(x+dx, y+dy, col)
			}
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
