package cloudify

import "testing"

func TestParseManagerVersion(t *testing.T) {
	tests := []struct {
		in     string
		want   ManagerVersion
		wantOK bool
	}{
		{"7", ManagerVersion{7, 0, 0}, true},
		{"6.4", ManagerVersion{6, 4, 0}, true},
		{"v7.0.4", ManagerVersion{7, 0, 4}, true},
		{" 4.5.5-ga ", ManagerVersion{4, 5, 5}, true},
		{"5.0.5.1", ManagerVersion{5, 0, 5}, true},
		{"6.4.0.dev1", ManagerVersion{6, 4, 0}, true},
		{"4.6-ga", ManagerVersion{4, 6, 0}, true},
		{"", ManagerVersion{}, false},
		{"latest", ManagerVersion{}, false},
		{"7.99999999999999999999", ManagerVersion{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseManagerVersion(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseManagerVersion(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
	if !(ManagerVersion{7, 0, 4}).AtLeast(7, 0, 1) || (ManagerVersion{6, 3, 9}).AtLeast(6, 4, 0) {
		t.Error("AtLeast is wrong")
	}
}
