package broker_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cfybroker/cfybroker/internal/broker"
)

const mysqlTemplate = "mysql://{username}:{password}@{host}:{port}/{database}"

func TestDecorateCredentials(t *testing.T) {
	base := map[string]any{"username": "app", "password": "p@ss/w:rd", "host": "db.example.com", "port": 3306.0, "database": "orders"}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name  string
		svc   broker.Service
		creds map[string]any
		want  map[string]any
	}{
		{
			name:  "type, provider and uri",
			svc:   broker.Service{CredentialsType: "mysql", URITemplate: mysqlTemplate},
			creds: base,
			want: with(map[string]any{"type": "mysql", "provider": "cloudify",
				"uri": "mysql://app:p%40ss%2Fw%3Ard@db.example.com:3306/orders"}),
		},
		{
			name:  "nothing configured: provider only",
			svc:   broker.Service{},
			creds: base,
			want:  with(map[string]any{"provider": "cloudify"}),
		},
		{
			name:  "the credentials' own entries win",
			svc:   broker.Service{CredentialsType: "mysql", URITemplate: mysqlTemplate},
			creds: with(map[string]any{"type": "mariadb", "provider": "acme", "uri": "mysql://given"}),
			want:  with(map[string]any{"type": "mariadb", "provider": "acme", "uri": "mysql://given"}),
		},
		{
			name:  "a missing placeholder leaves uri out",
			svc:   broker.Service{URITemplate: mysqlTemplate + "?ssl={ssl_mode}"},
			creds: base,
			want:  with(map[string]any{"provider": "cloudify"}),
		},
		{
			name:  "a null value is missing",
			svc:   broker.Service{URITemplate: mysqlTemplate},
			creds: with(map[string]any{"database": nil}),
			want:  with(map[string]any{"database": nil, "provider": "cloudify"}),
		},
		{
			name:  "nil credentials",
			svc:   broker.Service{CredentialsType: "redis", URITemplate: "redis://{host}"},
			creds: nil,
			want:  map[string]any{"type": "redis", "provider": "cloudify"},
		},
		{
			name:  "a template that does not parse gives no uri",
			svc:   broker.Service{URITemplate: "redis://{host"},
			creds: base,
			want:  with(map[string]any{"provider": "cloudify"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before map[string]any
			if tt.creds != nil {
				before = map[string]any{}
				for k, v := range tt.creds {
					before[k] = v
				}
			}
			got := broker.DecorateCredentials(tt.svc, tt.creds)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("credentials (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tt.creds); diff != "" {
				t.Errorf("the input was changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRenderURI(t *testing.T) {
	tests := []struct {
		name     string
		template string
		values   map[string]any
		want     string
		ok       bool
	}{
		{"userinfo escaped", mysqlTemplate,
			map[string]any{"username": "a b", "password": "@/:?#%+", "host": "h", "port": 1, "database": "d"},
			"mysql://a%20b:%40%2F%3A%3F%23%25%2B@h:1/d", true},
		{"host and port as they are", "pg://{host}:{port}",
			map[string]any{"host": "[::1]", "port": "5432"}, "pg://[::1]:5432", true},
		{"unreserved kept", "x://{user}", map[string]any{"user": "A-z_0.9~"}, "x://A-z_0.9~", true},
		{"numbers with %v", "x://h/{n}/{f}/{b}", map[string]any{"n": 7, "f": 2.5, "b": true}, "x://h/7/2.5/true", true},
		{"a placeholder twice", "{a}-{a}", map[string]any{"a": "x"}, "x-x", true},
		{"no placeholder", "x://fixed", nil, "x://fixed", true},
		{"missing", "x://{host}/{db}", map[string]any{"host": "h"}, "", false},
		{"object value", "x://{host}", map[string]any{"host": map[string]any{"a": 1}}, "", false},
		{"list value", "x://{host}", map[string]any{"host": []any{"a"}}, "", false},
		{"unbalanced", "x://{host", map[string]any{"host": "h"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := broker.RenderURI(tt.template, tt.values)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RenderURI(%q) = %q, %v; want %q, %v", tt.template, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestURITemplatePlaceholders(t *testing.T) {
	tests := []struct {
		template string
		want     []string
		err      string
	}{
		{template: mysqlTemplate, want: []string{"username", "password", "host", "port", "database"}},
		{template: "{a.b}{c_d}-{e-f}{a.b}", want: []string{"a.b", "c_d", "e-f"}},
		{template: "plain", want: nil},
		{template: "", want: nil},
		{template: "x://{host", err: `position 5: "{" opens a placeholder that is not closed`},
		{template: "x://host}", err: `position 9: "}" closes no placeholder`},
		{template: "x://{a{b}}", err: `position 7: "{" inside the placeholder opened at position 5`},
		{template: "x://{}", err: "position 5: placeholder {}: empty name"},
		{template: "x://{a b}", err: `position 5: placeholder {a b}: " " is not allowed in a name (letters, digits, "_", ".", "-")`},
		{template: "x://{host}}", err: `position 11: "}" closes no placeholder`},
	}
	for _, tt := range tests {
		got, err := broker.URITemplatePlaceholders(tt.template)
		switch {
		case tt.err != "":
			if err == nil || err.Error() != tt.err {
				t.Errorf("URITemplatePlaceholders(%q) error = %v, want %q", tt.template, err, tt.err)
			}
			if got != nil {
				t.Errorf("URITemplatePlaceholders(%q) = %q with an error", tt.template, got)
			}
		case err != nil:
			t.Errorf("URITemplatePlaceholders(%q): %v", tt.template, err)
		default:
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("URITemplatePlaceholders(%q) (-want +got):\n%s", tt.template, diff)
			}
		}
	}
}
