package logread

import (
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// appendJSON writes r as one JSON object: line, time (RFC 3339 when known),
// stamp (as written), event, level, then the event's fields at top level
// (numbers as numbers), raw, and note when set.
func appendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"line":`...)
	b = strconv.AppendInt(b, int64(r.Line), 10)
	if r.HasTime {
		b = append(b, `,"time":`...)
		layout := time.RFC3339
		if !r.Epoch {
			layout = "2006-01-02T15:04:05" // broker local time, zone unknown
		}
		b = strconv.AppendQuote(b, r.Time.Format(layout))
	}
	if r.Stamp != "" {
		b = append(b, `,"stamp":`...)
		b = appendString(b, r.Stamp)
	}
	b = append(b, `,"event":`...)
	b = appendString(b, r.Event)
	if r.Level != "" {
		b = append(b, `,"level":`...)
		b = appendString(b, r.Level)
	}
	for _, f := range r.Fields {
		b = append(b, ',')
		b = appendString(b, f.Name)
		b = append(b, ':')
		if f.Num {
			if _, err := strconv.ParseInt(f.Value, 10, 64); err == nil {
				b = append(b, f.Value...)
				continue
			}
		}
		b = appendString(b, f.Value)
	}
	b = append(b, `,"raw":`...)
	b = appendString(b, r.Raw)
	if r.Note != "" {
		b = append(b, `,"note":`...)
		b = appendString(b, r.Note)
	}
	return append(b, "}\n"...)
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // handles invalid UTF-8 and escapes
	return append(b, q...)
}

func writeJSON(w io.Writer, r *Record, buf *[]byte) error {
	*buf = appendJSON((*buf)[:0], r)
	_, err := w.Write(*buf)
	return err
}
