package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports how far a long command (dump, load) has come: a bar
// redrawn in place on a terminal, plain lines at most once a second
// otherwise (a log file or CI output stays readable).
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	now   func() time.Time

	label   string
	unit    string
	total   int64 // 0: unknown
	done    int64
	last    time.Time
	printed int64 // the count of the last plain line, -1 for none
}

// newProgress reports to w, as a bar when w is a terminal.
func newProgress(w io.Writer) *progress {
	p := &progress{w: w, tty: isTerminal(w), every: time.Second, now: time.Now}
	if p.tty {
		p.every = 100 * time.Millisecond
	}
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// start begins a new stage counting unit up to total (0 if unknown).
func (p *progress) start(label, unit string, total int64) {
	p.label, p.unit, p.total, p.done, p.last, p.printed = label, unit, total, 0, time.Time{}, -1
}

// set records that n units are done and reports it if it is time to.
func (p *progress) set(n int64) {
	p.done = n
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.report(false)
	}
}

// finish reports the stage's final count.
func (p *progress) finish() { p.report(true) }

func (p *progress) report(final bool) {
	if !p.tty {
		if p.done != p.printed && (final || p.done > 0) {
			p.printed = p.done
			fmt.Fprintln(p.w, p.line())
		}
		return
	}
	end := ""
	if final {
		end = "\n"
	}
	// \r and a clear-to-end-of-line escape redraw the bar in place.
	fmt.Fprintf(p.w, "\r%s\x1b[K%s", p.bar(30), end)
}

// line is the plain form: "album: 1200/5000 entities (24%)".
func (p *progress) line() string {
	if p.total > 0 {
		return fmt.Sprintf("%s: %d/%d %s (%d%%)", p.label, p.done, p.total, p.unit, p.percent())
	}
	return fmt.Sprintf("%s: %d %s", p.label, p.done, p.unit)
}

// bar is the terminal form: "album [=======>      ]  45% 1200/5000 entities".
func (p *progress) bar(width int) string {
	if p.total <= 0 {
		return p.line()
	}
	filled := int(int64(width) * min(p.done, p.total) / p.total)
	b := strings.Repeat("=", filled)
	if filled < width {
		b += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("%s [%s] %3d%% %d/%d %s", p.label, b, p.percent(), p.done, p.total, p.unit)
}

func (p *progress) percent() int64 {
	if p.total <= 0 {
		return 0
	}
	return 100 * min(p.done, p.total) / p.total
}
