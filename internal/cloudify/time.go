package cloudify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// TimeLayout is the manager's timestamp format: UTC with milliseconds and a
// trailing Z, for example "2023-05-02T10:11:12.345Z".
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Time is a manager timestamp. It decodes TimeLayout, RFC 3339 with or without
// fractional seconds, zone-less ISO 8601 timestamps (read as UTC), and null or
// "" as the zero Time. It encodes as TimeLayout in UTC, or null when zero.
type Time struct{ time.Time }

// timeLayouts are tried in order when decoding.
var timeLayouts = []string{
	TimeLayout,
	time.RFC3339Nano, // also matches RFC 3339 without a fraction
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// ParseTime parses a manager timestamp in any of the forms Time decodes.
// An empty string gives the zero Time.
func ParseTime(s string) (Time, error) {
	if s == "" {
		return Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return Time{t.UTC()}, nil
		}
	}
	return Time{}, fmt.Errorf("cloudify: cannot parse timestamp %q", s)
}

// UnmarshalJSON decodes a JSON string or null into t.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("cloudify: timestamp must be a string or null, got %s", b)
	}
	p, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// MarshalJSON encodes t as TimeLayout in UTC, or null when t is zero.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(TimeLayout))
}

// String returns t in TimeLayout, or "" when t is zero.
func (t Time) String() string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}
