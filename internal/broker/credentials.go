package broker

import (
	"errors"
	"fmt"
	"strings"
)

// CredentialsProvider is the "provider" entry DecorateCredentials adds to a binding's
// credentials (the Service Binding for Kubernetes convention).
const CredentialsProvider = "cloudify"

// DecorateCredentials returns a copy of a binding's credentials with the entries every
// binding of the service carries:
//
//   - "type": svc.CredentialsType, when it is set and creds have no "type";
//   - "provider": CredentialsProvider, when creds have no "provider";
//   - "uri": svc.URITemplate rendered from creds (see RenderURI), when the template is
//     set, every placeholder has a value and creds have no "uri".
//
// Entries the credentials already hold are never replaced: what the deployment or the
// bind workflow gives wins. creds is not changed; nil is the empty credentials.
func DecorateCredentials(svc Service, creds map[string]any) map[string]any {
	out := make(map[string]any, len(creds)+3)
	for k, v := range creds {
		out[k] = v
	}
	if _, ok := out["type"]; !ok && svc.CredentialsType != "" {
		out["type"] = svc.CredentialsType
	}
	if _, ok := out["provider"]; !ok {
		out["provider"] = CredentialsProvider
	}
	if _, ok := out["uri"]; !ok && svc.URITemplate != "" {
		if uri, ok := RenderURI(svc.URITemplate, creds); ok {
			out["uri"] = uri
		}
	}
	return out
}

// RenderURI replaces each {name} of template with values[name], formatted with %v and
// percent-encoded so that it is one URI component: every byte but the unreserved ones
// (letters, digits, "-", ".", "_", "~") is escaped, so a password holding "@", ":" or
// "/" cannot change the shape of the URI. The values of "host" and "port" are put in
// as they are (a host may be an IPv6 literal in brackets).
//
// ok is false, and the URI empty, when the template does not parse (see
// URITemplatePlaceholders) or a placeholder has no value: a nil, a missing entry, or a
// list or object. A URI is never half rendered.
func RenderURI(template string, values map[string]any) (uri string, ok bool) {
	parts, err := parseURITemplate(template)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		if !p.placeholder {
			b.WriteString(p.text)
			continue
		}
		v, found := values[p.text]
		switch v.(type) {
		case nil, map[string]any, []any:
			found = false
		}
		if !found {
			return "", false
		}
		s := fmt.Sprintf("%v", v)
		if p.text != "host" && p.text != "port" {
			s = escapeComponent(s)
		}
		b.WriteString(s)
	}
	return b.String(), true
}

// URITemplatePlaceholders returns the placeholder names of a URI template, in order,
// each once. A placeholder is "{name}" where name is one or more letters, digits, "_",
// "." or "-". Errors name the position (from 1) of a "{" that is not closed, a "}" that
// was not opened, a "{" inside a placeholder, or a placeholder with a bad or empty name.
func URITemplatePlaceholders(template string) ([]string, error) {
	parts, err := parseURITemplate(template)
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	for _, p := range parts {
		if p.placeholder && !seen[p.text] {
			seen[p.text] = true
			names = append(names, p.text)
		}
	}
	return names, nil
}

// templatePart is a literal text or a placeholder name of a URI template.
type templatePart struct {
	text        string
	placeholder bool
}

func parseURITemplate(t string) ([]templatePart, error) {
	var parts []templatePart
	lit := 0 // start of the current literal
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '}':
			return nil, fmt.Errorf(`position %d: "}" closes no placeholder`, i+1)
		case '{':
			end := strings.IndexAny(t[i+1:], "{}")
			if end < 0 {
				return nil, fmt.Errorf(`position %d: "{" opens a placeholder that is not closed`, i+1)
			}
			if t[i+1+end] == '{' {
				return nil, fmt.Errorf(`position %d: "{" inside the placeholder opened at position %d`, i+2+end, i+1)
			}
			name := t[i+1 : i+1+end]
			if err := checkPlaceholder(name); err != nil {
				return nil, fmt.Errorf("position %d: placeholder {%s}: %w", i+1, name, err)
			}
			if lit < i {
				parts = append(parts, templatePart{text: t[lit:i]})
			}
			parts = append(parts, templatePart{text: name, placeholder: true})
			i += end + 1
			lit = i + 1
		}
	}
	if lit < len(t) {
		parts = append(parts, templatePart{text: t[lit:]})
	}
	return parts, nil
}

func checkPlaceholder(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isUnreservedName(c) {
			return fmt.Errorf("%q is not allowed in a name (letters, digits, \"_\", \".\", \"-\")", string(c))
		}
	}
	return nil
}

func isUnreservedName(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// escapeComponent percent-encodes every byte of s but the unreserved characters of
// RFC 3986, so that s is safe in any component of a URI (userinfo, path, query).
func escapeComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreservedName(c) || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
