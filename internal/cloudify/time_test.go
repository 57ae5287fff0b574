package cloudify

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTimeUnmarshal(t *testing.T) {
	ms := time.Date(2023, 5, 2, 10, 11, 12, 345_000_000, time.UTC)
	whole := time.Date(2023, 5, 2, 10, 11, 12, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{"manager millis", `"2023-05-02T10:11:12.345Z"`, ms, false},
		{"manager .000Z", `"2023-05-02T10:11:12.000Z"`, whole, false},
		{"RFC 3339 no fraction", `"2023-05-02T10:11:12Z"`, whole, false},
		{"RFC 3339 offset", `"2023-05-02T12:11:12.345+02:00"`, ms, false},
		{"RFC 3339 micros", `"2023-05-02T10:11:12.345000Z"`, ms, false},
		{"no zone is UTC", `"2023-05-02T10:11:12.345"`, ms, false},
		{"space separator", `"2023-05-02 10:11:12.345"`, ms, false},
		{"null", `null`, time.Time{}, false},
		{"empty string", `""`, time.Time{}, false},
		{"garbage", `"yesterday"`, time.Time{}, true},
		{"number", `1700000000`, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Time
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal(%s) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && !got.Equal(tt.want) {
				t.Errorf("Unmarshal(%s) = %v, want %v", tt.in, got.Time, tt.want)
			}
		})
	}
}

func TestTimeInStructNullAndAbsent(t *testing.T) {
	var v struct {
		A Time `json:"a"`
		B Time `json:"b"`
	}
	v.A = Time{time.Now()}
	if err := json.Unmarshal([]byte(`{"a": null}`), &v); err != nil {
		t.Fatal(err)
	}
	if !v.A.IsZero() || !v.B.IsZero() {
		t.Errorf("null/absent times = %v, %v; want zero", v.A, v.B)
	}
}

func TestTimeMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   Time
		want string
	}{
		{"zero is null", Time{}, `null`},
		{"millis", Time{time.Date(2024, 1, 10, 8, 0, 5, 1_000_000, time.UTC)}, `"2024-01-10T08:00:05.001Z"`},
		{"converted to UTC", Time{time.Date(2024, 1, 10, 10, 0, 0, 0, time.FixedZone("x", 2*3600))}, `"2024-01-10T08:00:00.000Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("Marshal = %s, want %s", b, tt.want)
			}
			var back Time
			if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tt.in.Time) {
				t.Errorf("round trip = %v, %v; want %v", back, err, tt.in)
			}
		})
	}
	if s := (Time{}).String(); s != "" {
		t.Errorf("zero String() = %q, want empty", s)
	}
}
