package benchreport

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The report's line plots, drawn with gonum.org/v1/plot: panels stacked vertically
// over the same x axis, each with its own y axis (linear or log10), lines with
// markers and a legend, under one title.

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
	// YMax raises the top of the y axis (room for the legend above the data).
	YMax   float64
	Series []benchSeries
}

type benchPlot struct {
	Title  string
	XLabel string
	XMin   float64
	XMax   float64
	Panels []benchPanel
}

var (
	benchBlue   = color.RGBA{0x1f, 0x5f, 0xbf, 0xff}
	benchOrange = color.RGBA{0xe0, 0x6c, 0x10, 0xff}
	benchGreen  = color.RGBA{0x2a, 0x9d, 0x3a, 0xff}
	benchGrid   = color.RGBA{0xd4, 0xd4, 0xd4, 0xff}
)

// The PNG's size and resolution: 1000 pixels wide, each panel 400 pixels high.
const (
	benchPlotDPI     = 100
	benchPlotWidth   = 10 * vg.Inch
	benchPanelHeight = 4 * vg.Inch
	benchTitleHeight = 0.6 * vg.Inch
)

// render draws the plot as a PNG.
func (p benchPlot) render(w io.Writer) error {
	if len(p.Panels) == 0 {
		return fmt.Errorf("plot %q has no panel", p.Title)
	}
	plots := make([][]*plot.Plot, len(p.Panels))
	for i, pn := range p.Panels {
		pl, err := p.panel(pn)
		if err != nil {
			return fmt.Errorf("panel %q: %w", pn.Title, err)
		}
		plots[i] = []*plot.Plot{pl}
	}
	height := benchTitleHeight + vg.Length(len(p.Panels))*benchPanelHeight
	img := vgimg.NewWith(vgimg.UseWH(benchPlotWidth, height), vgimg.UseDPI(benchPlotDPI))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	title := plots[0][0].Title.TextStyle
	title.Font = font.From(plot.DefaultFont, 18)
	title.Font.Variant, title.Font.Weight = benchFontVariant, 700 // bold
	title.XAlign, title.YAlign = draw.XCenter, draw.YTop
	dc.FillText(title, vg.Point{X: benchPlotWidth / 2, Y: height - 0.15*vg.Inch}, p.Title)

	tiles := draw.Tiles{Rows: len(p.Panels), Cols: 1, PadTop: benchTitleHeight, PadY: 0.25 * vg.Inch,
		PadLeft: 0.1 * vg.Inch, PadRight: 0.25 * vg.Inch, PadBottom: 0.1 * vg.Inch}
	for i, row := range plot.Align(plots, tiles, dc) {
		plots[i][0].Draw(row[0])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// panel builds one panel's plot.
func (p benchPlot) panel(pn benchPanel) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = pn.Title
	pl.Title.TextStyle.Font.Size = 14
	pl.Title.Padding = 0.1 * vg.Inch
	pl.X.Label.Text, pl.Y.Label.Text = p.XLabel, pn.YLabel
	pl.X.Label.TextStyle.Font.Size, pl.Y.Label.TextStyle.Font.Size = 13, 13
	pl.X.Tick.Label.Font.Size, pl.Y.Tick.Label.Font.Size = 12, 12
	pl.X.Min, pl.X.Max = p.XMin, p.XMax
	pl.X.Tick.Marker = benchLinearTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = benchGrid, benchGrid
	pl.Add(grid)

	lo, hi := math.Inf(1), math.Max(pn.YMax, math.Inf(-1))
	for _, s := range pn.Series {
		for _, v := range s.Y {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		pts := make(plotter.XYs, len(s.X))
		for k := range s.X {
			pts[k] = plotter.XY{X: s.X[k], Y: s.Y[k]}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		line.Color, line.Width = s.Color, vg.Points(2)
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		}
		pl.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if s.Marker {
			marks, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, fmt.Errorf("series %q: %w", s.Name, err)
			}
			marks.GlyphStyle = draw.GlyphStyle{Color: s.Color, Radius: vg.Points(3), Shape: draw.BoxGlyph{}}
			pl.Add(marks)
			thumbs = append(thumbs, marks)
		}
		pl.Legend.Add(s.Name, thumbs...)
	}
	if math.IsInf(lo, 1) {
		return nil, fmt.Errorf("no data")
	}
	if pn.LogY {
		pl.Y.Scale = plot.LogScale{}
		pl.Y.Tick.Marker = benchLogTicks{}
		pl.Y.Min = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1e-9))))
		pl.Y.Max = math.Pow(10, math.Ceil(math.Log10(hi)))
	} else {
		// Up to the first round tick above the data.
		ticks := benchLinearTicks{}.Ticks(0, hi*1.02)
		pl.Y.Min, pl.Y.Max = 0, math.Max(hi*1.02, ticks[len(ticks)-1].Value)
		pl.Y.Tick.Marker = benchLinearTicks{}
	}
	pl.Legend.Top, pl.Legend.Left = true, true
	pl.Legend.XOffs, pl.Legend.YOffs = 0.15*vg.Inch, -0.1*vg.Inch
	pl.Legend.TextStyle.Font.Size = 12
	pl.Legend.ThumbnailWidth = 0.5 * vg.Inch
	for _, sty := range []*text.Style{&pl.Title.TextStyle, &pl.X.Label.TextStyle, &pl.Y.Label.TextStyle,
		&pl.X.Tick.Label, &pl.Y.Tick.Label, &pl.Legend.TextStyle} {
		sty.Font.Variant = benchFontVariant
	}
	return pl, nil
}

// benchFontVariant is the variant of the plot's typeface (Liberation, which
// gonum.org/v1/plot embeds): sans serif reads better at the sizes of a plot.
const benchFontVariant = "Sans"

// benchLinearTicks marks a linear axis every 1, 2 or 5 × 10^k, about six labelled
// ticks over the range, from the first multiple of the step at or after lo up to the
// first at or after hi.
type benchLinearTicks struct{}

// Ticks returns the ticks from lo to hi.
func (benchLinearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', -1, 64)}}
	}
	raw := (hi - lo) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for i := math.Ceil(lo / step); ; i++ {
		v := i * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 6, 64)})
		if v >= hi-step*1e-9 {
			return ticks
		}
	}
}

// benchLogTicks marks a log axis at 1, 2 and 5 of every decade, all labelled: the
// counts it shows span few decades, and a reader wants to read them off.
type benchLogTicks struct{}

// Ticks returns the ticks from lo to hi.
func (benchLogTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ticks
}
