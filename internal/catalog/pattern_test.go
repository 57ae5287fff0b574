package catalog

import (
	"regexp"
	"strings"
	"testing"
)

func TestECMAPattern(t *testing.T) {
	tests := []struct {
		in, want string
		err      string // substring of the error; "" for success
	}{
		{in: "abc", want: "^(?:abc)"},
		{in: "a|b", want: "^(?:a|b)"},
		{in: "", want: "^(?:)"},
		{in: "[a-z][a-z0-9_]*", want: "^(?:[a-z][a-z0-9_]*)"},
		{in: `(?P<year>\d{4})-(?P<m>\d\d)`, want: `^(?:(?<year>\d{4})-(?<m>\d\d))`},
		{in: `\Aabc\Z`, want: `^(?:^abc$)`},
		{in: `a{,3}`, want: `^(?:a{0,3})`},
		{in: `a{2,}b{3}`, want: `^(?:a{2,}b{3})`},
		{in: `a{x}`, want: `^(?:a\{x\})`},
		{in: `{`, want: `^(?:\{)`},
		{in: `a*?b+?c??`, want: `^(?:a*?b+?c??)`},
		{in: `[]a]`, want: `^(?:[\]a])`},
		{in: `[^]a]`, want: `^(?:[^\]a])`},
		{in: `[[:alpha:]]`, want: `^(?:[\[:alpha:]\])`},
		{in: `[\b]`, want: `^(?:[\x08])`},
		{in: `\bword\b`, want: `^(?:\bword\b)`},
		{in: `\a`, want: `^(?:\x07)`},
		{in: `\x41\u00e9\U0001F600`, want: "^(?:\\x41\u00e9\U0001F600)"},
		{in: `\u002e`, want: `^(?:\.)`},
		{in: `\.\-\ \é`, want: `^(?:\.\- é)`},
		{in: `a(?#comment)b`, want: `^(?:ab)`},
		{in: `(?:ab)+`, want: `^(?:(?:ab)+)`},
		{in: `\d\D\w\W\s\S\n\t`, want: `^(?:\d\D\w\W\s\S\n\t)`},
		{in: "(?i)abc", err: "inline flags"},
		{in: "(?i:abc)", err: "inline flags"},
		{in: "(?P<n>a)(?P=n)", err: "named backreference"},
		{in: `(a)\1`, err: "backreference"},
		{in: `\0`, err: "octal"},
		{in: "(?=a)", err: "lookaround"},
		{in: "(?<!a)b", err: "lookaround"},
		{in: "(?>a)", err: "atomic"},
		{in: "(?(1)a|b)", err: "conditional"},
		{in: "a++", err: "possessive"},
		{in: "a{2}+", err: "possessive"},
		{in: "a*?+", err: "possessive"},
		{in: `\N{DIGIT ONE}`, err: `\N`},
		{in: `\q`, err: "unknown escape"},
		{in: `abc\`, err: "trailing backslash"},
		{in: "[abc", err: "unterminated"},
		{in: `\xZZ`, err: `\x`},
		{in: `\ud800`, err: "not a character"},
		{in: "(?P<1a>x)", err: "group name"},
		{in: "a{1001}", err: "RE2"},
		{in: "(abc", err: "RE2"},
		{in: "\xff", err: "UTF-8"},
	}
	for _, tt := range tests {
		got, err := ecmaPattern(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ecmaPattern(%q) = %q, %v; want error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ecmaPattern(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestECMAPatternMatches checks Python re.match semantics on the translations: anchored at
// the start only.
func TestECMAPatternMatches(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"abc", []string{"abc", "abcdef"}, []string{"ab", "xabc"}},
		{"a|bc", []string{"a", "ax", "bcd"}, []string{"xa", "b"}},
		{`\d+\Z`, []string{"1", "123"}, []string{"1a", "a1"}},
		{`[]x]+`, []string{"]", "x]x"}, []string{"a"}},
		{`a{,2}b`, []string{"b", "ab", "aab"}, []string{"aaab"}},
	}
	for _, tt := range tests {
		p, err := ecmaPattern(tt.pattern)
		if err != nil {
			t.Fatalf("ecmaPattern(%q): %v", tt.pattern, err)
		}
		re := regexp.MustCompile(p)
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("%q (%s) does not match %q", tt.pattern, p, s)
			}
		}
		for _, s := range tt.noMatch {
			if re.MatchString(s) {
				t.Errorf("%q (%s) matches %q", tt.pattern, p, s)
			}
		}
	}
}
