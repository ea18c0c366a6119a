package logread

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// MaxLine is the longest physical line kept; the rest of a longer line is
// skipped. Mosquitto truncates its lines to 999 bytes, but pasted logs may
// glue a whole session into one line.
const MaxLine = 4 << 20

// lineReader yields physical lines from r, with bounded memory. At EOF in
// follow mode it keeps a partial last line until its newline arrives.
type lineReader struct {
	r       *bufio.Reader
	partial []byte
	n       int // lines returned so far
	lost    bool
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its newline (and "\r"). At the end of
// input it returns io.EOF; with follow false a trailing partial line is
// returned first.
func (lr *lineReader) next(follow bool) (string, error) {
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(lr.partial)+len(chunk) <= MaxLine {
			lr.partial = append(lr.partial, chunk...)
		} else {
			lr.lost = true
		}
		switch {
		case err == nil:
			return lr.take(), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && !follow && len(lr.partial) > 0:
			return lr.take(), nil
		default:
			return "", err
		}
	}
}

func (lr *lineReader) take() string {
	b := bytes.TrimSuffix(lr.partial, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	s := string(b)
	lr.partial = lr.partial[:0]
	if cap(lr.partial) > 1<<20 {
		lr.partial = nil // do not keep a huge buffer after one huge line
	}
	lr.n++
	return s
}

// pollInterval is how often a followed file is checked for new data.
var pollInterval = 200 * time.Millisecond

// stream reads records from r and hands them to emit. With follow set and r
// an *os.File, it keeps polling for appended data until ctx is done, and
// starts over if the file is truncated.
func stream(ctx context.Context, r io.Reader, follow bool, emit func(*Record) error) error {
	lr := newLineReader(r)
	var p Parser
	var parts []string
	f, isFile := r.(*os.File)
	follow = follow && isFile
	var ticker *time.Ticker
	var pos int64
	for {
		line, err := lr.next(follow)
		if err == io.EOF && follow {
			if ticker == nil {
				ticker = time.NewTicker(pollInterval)
				defer ticker.Stop()
			}
			select {
			case <-ctx.Done():
				return nil
			case <-ticker.C:
			}
			if cur, err := f.Seek(0, io.SeekCurrent); err == nil {
				pos = cur - int64(lr.r.Buffered())
				if st, err := f.Stat(); err == nil && st.Size() < pos {
					if _, err := f.Seek(0, io.SeekStart); err == nil {
						lr.r.Reset(f)
						lr.partial = lr.partial[:0]
					}
				}
			}
			continue
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		parts = splitGlued(line, parts)
		for _, part := range parts {
			rec := p.Parse(lr.n, part)
			if lr.lost {
				rec.Note = "line longer than the limit; the rest was skipped"
				lr.lost = false
			}
			if err := emit(&rec); err != nil {
				return err
			}
		}
	}
}
