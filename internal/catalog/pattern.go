package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ecmaPattern turns a Cloudify `pattern` constraint (a Python regular expression applied
// with re.match, so anchored at the start only) into a JSON Schema "pattern":
// "^(?:" + r + ")" with Python-only syntax converted (§6.4).
//
// The result must mean the same in ECMA-262 (what JSON Schema specifies) and in RE2 (what Go
// validators such as santhosh-tekuri/jsonschema and gojsonschema compile, and what a
// Go-based platform would use). Syntax with no equivalent in either is an error, and the
// caller leaves the keyword out: inline flags, (?P=name), atomic groups, possessive
// quantifiers, conditionals, backreferences, lookarounds, \N{...}, octal escapes.
func ecmaPattern(r string) (string, error) {
	t, err := translatePython(r)
	if err != nil {
		return "", err
	}
	p := "^(?:" + t + ")"
	if _, err := regexp.Compile(p); err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			return "", err
		}
		return "", fmt.Errorf("not supported by RE2-based validators: %w", err)
	}
	return p, nil
}

type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func unsupported(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...)}
}

// translatePython converts Python regex syntax to the common subset of ECMA-262 and RE2.
func translatePython(r string) (string, error) {
	if !utf8.ValidString(r) {
		return "", unsupported("not valid UTF-8")
	}
	var b strings.Builder
	inClass := false
	classStart := 0 // index in r just after "[" or "[^"
	// quantified finishes a quantifier ending before r[i]: it copies a lazy "?" and
	// rejects a possessive "+" (Python 3.11+).
	quantified := func(i int) (int, error) {
		if i < len(r) && r[i] == '?' {
			b.WriteByte('?')
			i++
		}
		if i < len(r) && r[i] == '+' {
			return 0, unsupported("possessive quantifier")
		}
		return i, nil
	}
	for i := 0; i < len(r); {
		c := r[i]
		if c == '\\' {
			if i+1 >= len(r) {
				return "", unsupported("trailing backslash")
			}
			out, n, err := translateEscape(r[i+1:], inClass)
			if err != nil {
				return "", err
			}
			b.WriteString(out)
			i += 1 + n
			continue
		}
		if inClass {
			switch {
			case c == ']' && i != classStart:
				inClass = false
				b.WriteByte(c)
			case c == ']' || c == '[':
				// Python: a "]" first in a set, or any "[", is literal. ECMA reads "[]" as an
				// empty set and RE2 reads "[:alpha:]" as a POSIX class; escape both.
				b.WriteString(`\` + string(c))
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		var err error
		switch c {
		case '[':
			inClass = true
			b.WriteByte(c)
			i++
			if i < len(r) && r[i] == '^' {
				b.WriteByte('^')
				i++
			}
			classStart = i
		case '(':
			if strings.HasPrefix(r[i:], "(?") {
				out, n, err := translateGroup(r[i:])
				if err != nil {
					return "", err
				}
				b.WriteString(out)
				i += n
				continue
			}
			b.WriteByte(c)
			i++
		case '{':
			q, n, ok := quantifier(r[i:])
			if !ok {
				// Not a quantifier: Python reads it literally.
				b.WriteString(`\{`)
				i++
				continue
			}
			b.WriteString(q)
			if i, err = quantified(i + n); err != nil {
				return "", err
			}
		case '}', ']':
			// Literal in Python; escaped so that no ECMA mode reads it as syntax.
			b.WriteString(`\` + string(c))
			i++
		case '*', '+', '?':
			b.WriteByte(c)
			if i, err = quantified(i + 1); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	if inClass {
		return "", unsupported("unterminated character set")
	}
	return b.String(), nil
}

// quantifier parses a Python brace quantifier at the start of s: {n}, {n,}, {,m} or {n,m}.
// It returns the RE2/ECMA form ({,m} becomes {0,m}) and its length.
func quantifier(s string) (string, int, bool) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", 0, false
	}
	body := s[1:end]
	lo, hi, comma := strings.Cut(body, ",")
	if !digits(lo) && !(comma && lo == "") {
		return "", 0, false
	}
	if comma && hi != "" && !digits(hi) {
		return "", 0, false
	}
	if !comma && lo == "" {
		return "", 0, false
	}
	if lo == "" {
		lo = "0"
	}
	if comma {
		return "{" + lo + "," + hi + "}", end + 1, true
	}
	return "{" + lo + "}", end + 1, true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// translateGroup converts a "(?..." construct at the start of s.
func translateGroup(s string) (string, int, error) {
	switch {
	case strings.HasPrefix(s, "(?:"):
		return "(?:", 3, nil
	case strings.HasPrefix(s, "(?P<"):
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", 0, unsupported("unterminated group name")
		}
		name := s[4:end]
		if !groupName.MatchString(name) {
			return "", 0, unsupported("group name %q", name)
		}
		return "(?<" + name + ">", end + 1, nil
	case strings.HasPrefix(s, "(?P="):
		return "", 0, unsupported("named backreference (?P=...)")
	case strings.HasPrefix(s, "(?#"):
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return "", 0, unsupported("unterminated comment")
		}
		return "", end + 1, nil
	case strings.HasPrefix(s, "(?="), strings.HasPrefix(s, "(?!"),
		strings.HasPrefix(s, "(?<="), strings.HasPrefix(s, "(?<!"):
		return "", 0, unsupported("lookaround assertion")
	case strings.HasPrefix(s, "(?>"):
		return "", 0, unsupported("atomic group")
	case strings.HasPrefix(s, "(?("):
		return "", 0, unsupported("conditional group")
	case strings.HasPrefix(s, "(?<"):
		return "", 0, unsupported("group syntax (?<")
	}
	return "", 0, unsupported("inline flags %q", firstGroupToken(s))
}

var groupName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func firstGroupToken(s string) string {
	if i := strings.IndexAny(s, ":)"); i >= 0 {
		return s[:i+1]
	}
	return s
}

// translateEscape converts the escape sequence whose text after the backslash starts s. It
// returns the replacement and how many bytes of s it used.
func translateEscape(s string, inClass bool) (string, int, error) {
	c := s[0]
	switch c {
	case 'd', 'D', 'w', 'W', 's', 'S', 'n', 'r', 't', 'f', 'v':
		return `\` + string(c), 1, nil
	case 'b':
		if inClass {
			return `\x08`, 1, nil // backspace inside a set
		}
		return `\b`, 1, nil
	case 'B':
		if inClass {
			return "", 0, unsupported(`\B inside a set`)
		}
		return `\B`, 1, nil
	case 'A':
		if inClass {
			return "", 0, unsupported(`\A inside a set`)
		}
		return "^", 1, nil
	case 'Z', 'z':
		if inClass {
			return "", 0, unsupported(`\%c inside a set`, c)
		}
		return "$", 1, nil
	case 'a':
		return `\x07`, 1, nil
	case 'x':
		if len(s) >= 3 && isHex(s[1:3]) {
			return `\x` + s[1:3], 3, nil
		}
		return "", 0, unsupported(`incomplete \x escape`)
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		if len(s) < 1+n || !isHex(s[1:1+n]) {
			return "", 0, unsupported(`incomplete \%c escape`, c)
		}
		v, _ := strconv.ParseUint(s[1:1+n], 16, 32)
		if v > utf8.MaxRune || v >= 0xD800 && v <= 0xDFFF {
			return "", 0, unsupported(`\%s is not a character`, s[:1+n])
		}
		return literalRune(rune(v)), 1 + n, nil
	case 'N':
		return "", 0, unsupported(`\N{...} escape`)
	}
	if c >= '0' && c <= '9' {
		return "", 0, unsupported(`backreference or octal escape \%c`, c)
	}
	if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return "", 0, unsupported(`unknown escape \%c`, c)
	}
	r, n := utf8.DecodeRuneInString(s)
	if r < utf8.RuneSelf && isPunct(byte(r)) {
		return `\` + string(r), n, nil
	}
	// An escaped space or non-ASCII character is itself.
	return literalRune(r), n, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isPunct(c byte) bool {
	return c > ' ' && c < 0x7f && !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
}

// literalRune writes r so that it matches itself in and out of sets, in ECMA and RE2.
func literalRune(r rune) string {
	if r < utf8.RuneSelf {
		c := byte(r)
		if isPunct(c) {
			return `\` + string(c)
		}
		if c < ' ' || c == 0x7f {
			return fmt.Sprintf(`\x%02X`, c)
		}
	}
	return string(r)
}
