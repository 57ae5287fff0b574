package cloudifysim

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultVersion is the manager release simulated when Config.Version is empty.
const DefaultVersion = "7.0.4"

// version is a parsed manager release number.
type version struct{ major, minor, patch int }

// parseVersion reads "7", "6.4", "7.0.4", "v7.0.4", "7.0.4-ga" or "5.1.1.dev1".
func parseVersion(s string) (version, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if s == "" {
		return version{}, fmt.Errorf("empty version")
	}
	var nums [3]int
	parts := strings.SplitN(s, ".", 4)
	for i := 0; i < len(parts) && i < 3; i++ {
		p := parts[i]
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 {
			if i == 0 {
				return version{}, fmt.Errorf("invalid version %q", s)
			}
			break
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			return version{}, fmt.Errorf("invalid version %q: %w", s, err)
		}
		nums[i] = n
		if end < len(p) {
			break
		}
	}
	return version{nums[0], nums[1], nums[2]}, nil
}

// atLeast reports whether v >= major.minor.patch.
func (v version) atLeast(major, minor, patch int) bool {
	if v.major != major {
		return v.major > major
	}
	if v.minor != minor {
		return v.minor > minor
	}
	return v.patch >= patch
}

// String formats the version as major.minor.patch.
func (v version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
}
