package main

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strconv"
)

// A small line-plot renderer for the benchmark report: panels stacked vertically
// over one x axis, linear or log10 y axes, lines with markers, a legend. Only the
// standard library (image/png) and the 5×7 font of bench_font.go.

type benchSeries struct {
	Name   string
	Color  color.RGBA
	X, Y   []float64
	Dashed bool
	Marker bool
}

type benchPanel struct {
	Title  string
	YLabel string
	LogY   bool
	// YMax raises the top of a log axis (room for the legend above the data).
	YMax   float64
	Series []benchSeries
}

type benchPlot struct {
	Title  string
	XLabel string
	XMin   float64
	XMax   float64
	XTicks []float64
	Panels []benchPanel
}

var (
	benchBlack  = color.RGBA{0x20, 0x20, 0x20, 0xff}
	benchGrey   = color.RGBA{0x90, 0x90, 0x90, 0xff}
	benchGrid   = color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	benchWhite  = color.RGBA{0xff, 0xff, 0xff, 0xff}
	benchBlue   = color.RGBA{0x1f, 0x5f, 0xbf, 0xff}
	benchOrange = color.RGBA{0xe0, 0x6c, 0x10, 0xff}
	benchGreen  = color.RGBA{0x2a, 0x9d, 0x3a, 0xff}
)

type benchCanvas struct{ img *image.RGBA }

func (c benchCanvas) set(x, y int, col color.RGBA) {
	if image.Pt(x, y).In(c.img.Rect) {
		c.img.SetRGBA(x, y, col)
	}
}

func (c benchCanvas) fill(x0, y0, x1, y1 int, col color.RGBA) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c.set(x, y, col)
		}
	}
}

// line draws a line of the given width; dashed lines alternate 8 on, 6 off.
func (c benchCanvas) line(x0, y0, x1, y1 float64, width int, col color.RGBA, dashed bool) {
	dx, dy := x1-x0, y1-y0
	n := int(math.Max(math.Abs(dx), math.Abs(dy))) + 1
	for i := 0; i <= n; i++ {
		if dashed && (i%14) >= 8 {
			continue
		}
		t := float64(i) / float64(n)
		x, y := int(math.Round(x0+dx*t)), int(math.Round(y0+dy*t))
		for wy := -(width - 1) / 2; wy <= width/2; wy++ {
			for wx := -(width - 1) / 2; wx <= width/2; wx++ {
				c.set(x+wx, y+wy, col)
			}
		}
	}
}

// text draws s with its top-left corner at (x, y), each font pixel scale×scale.
func (c benchCanvas) text(x, y int, s string, scale int, col color.RGBA) {
	for _, r := range s {
		g, ok := benchFont[r]
		if ok {
			for row := 0; row < 9; row++ {
				for bit := 0; bit < 5; bit++ {
					if g[row]&(1<<(4-bit)) != 0 {
						c.fill(x+bit*scale, y+row*scale, x+(bit+1)*scale, y+(row+1)*scale, col)
					}
				}
			}
		}
		x += 6 * scale
	}
}

// textUp draws s reading bottom to top, its baseline's start at (x, y).
func (c benchCanvas) textUp(x, y int, s string, scale int, col color.RGBA) {
	for _, r := range s {
		g, ok := benchFont[r]
		if ok {
			for row := 0; row < 9; row++ {
				for bit := 0; bit < 5; bit++ {
					if g[row]&(1<<(4-bit)) != 0 {
						px, py := x+row*scale, y-(bit+1)*scale
						c.fill(px, py, px+scale, py+scale, col)
					}
				}
			}
		}
		y -= 6 * scale
	}
}

func benchTextWidth(s string, scale int) int {
	n := 0
	for range s {
		n++
	}
	return n*6*scale - scale
}

// benchTicks returns round tick values from lo to hi: 1, 2, 5 × 10^k steps.
func benchTicks(lo, hi float64, want int) []float64 {
	raw := (hi - lo) / float64(want)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; ; v += step {
		out = append(out, v)
		if v >= hi-step/1e6 {
			return out
		}
	}
}

func benchFmtTick(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// render draws the plot as a PNG.
func (p benchPlot) render(w io.Writer) error {
	const (
		width, left, right = 1000, 110, 30
		panelH, gap, top   = 300, 110, 70
		scale              = 2
	)
	height := top + len(p.Panels)*(panelH+gap) - 20
	c := benchCanvas{image.NewRGBA(image.Rect(0, 0, width, height))}
	c.fill(0, 0, width, height, benchWhite)
	c.text((width-benchTextWidth(p.Title, 3))/2, 16, p.Title, 3, benchBlack)
	x0, x1 := float64(left), float64(width-right)
	xpix := func(v float64) float64 { return x0 + (v-p.XMin)/(p.XMax-p.XMin)*(x1-x0) }
	for i, pn := range p.Panels {
		ptop := float64(top + i*(panelH+gap) + 30)
		pbot := ptop + panelH - 30
		// y range
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range pn.Series {
			for _, v := range s.Y {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		var ticks []float64
		var ypix func(float64) float64
		if pn.LogY {
			lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1e-9))))
			hi = math.Pow(10, math.Ceil(math.Log10(math.Max(hi, pn.YMax))))
			for d := lo; d <= hi*1.0001; d *= 10 {
				for _, m := range []float64{1, 2, 5} {
					if d*m <= hi*1.0001 {
						ticks = append(ticks, d*m)
					}
				}
			}
			ypix = func(v float64) float64 {
				return pbot - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*(pbot-ptop)
			}
		} else {
			lo = 0
			ticks = benchTicks(0, hi*1.02, 6)
			hi = ticks[len(ticks)-1]
			ypix = func(v float64) float64 { return pbot - (v-lo)/(hi-lo)*(pbot-ptop) }
		}
		c.text(left, int(ptop)-28, pn.Title, scale, benchBlack)
		// grid and y ticks
		for _, t := range ticks {
			y := ypix(t)
			c.line(x0, y, x1, y, 1, benchGrid, false)
			lbl := benchFmtTick(t)
			c.text(left-10-benchTextWidth(lbl, scale), int(y)-7, lbl, scale, benchBlack)
		}
		for _, t := range p.XTicks {
			x := xpix(t)
			c.line(x, ptop, x, pbot, 1, benchGrid, false)
			lbl := benchFmtTick(t)
			c.text(int(x)-benchTextWidth(lbl, scale)/2, int(pbot)+8, lbl, scale, benchBlack)
		}
		// axes
		c.line(x0, ptop, x0, pbot, 2, benchBlack, false)
		c.line(x0, pbot, x1, pbot, 2, benchBlack, false)
		c.text(int(x0+x1)/2-benchTextWidth(p.XLabel, scale)/2, int(pbot)+30, p.XLabel, scale, benchBlack)
		c.textUp(left-96, int(ptop+pbot)/2+benchTextWidth(pn.YLabel, scale)/2, pn.YLabel, scale, benchBlack)
		// series
		for _, s := range pn.Series {
			for k := 1; k < len(s.X); k++ {
				c.line(xpix(s.X[k-1]), ypix(s.Y[k-1]), xpix(s.X[k]), ypix(s.Y[k]), 3, s.Color, s.Dashed)
			}
			if s.Marker {
				for k := range s.X {
					x, y := int(xpix(s.X[k])), int(ypix(s.Y[k]))
					c.fill(x-5, y-5, x+6, y+6, s.Color)
					c.fill(x-2, y-2, x+3, y+3, benchWhite)
				}
			}
		}
		// legend, top left inside the panel
		lw := 0
		for _, s := range pn.Series {
			lw = max(lw, benchTextWidth(s.Name, scale))
		}
		lx, ly := int(x0)+14, int(ptop)+10
		c.fill(lx-8, ly-8, lx+lw+60, ly+len(pn.Series)*22, benchWhite)
		c.line(float64(lx-8), float64(ly-8), float64(lx+lw+60), float64(ly-8), 1, benchGrey, false)
		c.line(float64(lx-8), float64(ly+len(pn.Series)*22), float64(lx+lw+60), float64(ly+len(pn.Series)*22), 1, benchGrey, false)
		c.line(float64(lx-8), float64(ly-8), float64(lx-8), float64(ly+len(pn.Series)*22), 1, benchGrey, false)
		c.line(float64(lx+lw+60), float64(ly-8), float64(lx+lw+60), float64(ly+len(pn.Series)*22), 1, benchGrey, false)
		for k, s := range pn.Series {
			y := float64(ly + k*22 + 6)
			c.line(float64(lx), y, float64(lx+36), y, 3, s.Color, s.Dashed)
			c.text(lx+46, int(y)-7, s.Name, scale, benchBlack)
		}
	}
	return png.Encode(w, c.img)
}
