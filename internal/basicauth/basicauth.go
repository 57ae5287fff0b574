// Package basicauth holds HTTP Basic credentials and their constant-time check, for
// every HTTP surface of the broker (the OSB API and the operator's admin API). It
// imports only the standard library.
//
// A Verifier compares SHA-256 digests of the presented credentials with those of every
// accepted pair, in constant time and without stopping at a match, so that neither the
// position of a match nor the length of a secret shows in the timing.
package basicauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// Credential is one accepted pair of HTTP Basic credentials.
type Credential struct {
	Username string
	Password string
}

// String returns the username and hides the password, so that printing a
// configuration with %v cannot leak it.
func (c Credential) String() string { return c.Username + ":<redacted>" }

// Verifier checks a request's Basic credentials against a fixed set of pairs. The zero
// value accepts nothing.
type Verifier struct {
	digests []digest
}

// digest holds SHA-256 digests of a credential: comparing digests of fixed length keeps
// the comparison constant-time whatever the lengths of the secrets.
type digest struct {
	user, pass [sha256.Size]byte
	// header is the digest of the credential's canonical Authorization header
	// ("Basic " and the padded standard base64 of "user:pass"), when it has one.
	header    [sha256.Size]byte
	hasHeader bool
}

// NewVerifier returns a Verifier of creds. It fails on a credential with an empty
// username or password, naming it by its index.
func NewVerifier(creds []Credential) (*Verifier, error) {
	v := &Verifier{}
	for i, c := range creds {
		if c.Username == "" || c.Password == "" {
			return nil, fmt.Errorf("credential %d has an empty username or password", i)
		}
		d := digest{
			user: sha256.Sum256([]byte(c.Username)),
			pass: sha256.Sum256([]byte(c.Password)),
		}
		// A user-id with a colon has no Authorization header of its own (the
		// header's first colon ends the user-id), so it gets no header digest.
		if !strings.Contains(c.Username, ":") {
			d.header = sha256.Sum256([]byte("Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password))))
			d.hasHeader = true
		}
		v.digests = append(v.digests, d)
	}
	return v, nil
}

// Len returns the number of accepted pairs.
func (v *Verifier) Len() int { return len(v.digests) }

// Authorized reports whether r carries Basic credentials equal to one accepted pair.
//
// A platform sends the same header on every request, so the header is first compared
// whole, by its digest, with each pair's canonical header: one hash, no decoding. Any
// other header (another spelling of the scheme, a user-id with a colon, wrong
// credentials) goes through the field-by-field comparison, which decides. That the
// first comparison is quicker for a valid header reveals nothing the answer does not.
func (v *Verifier) Authorized(r *http.Request) bool {
	if h := r.Header["Authorization"]; len(h) > 0 {
		var buf [128]byte // a platform's header fits: hashed without an allocation
		d := sha256.Sum256(append(buf[:0], h[0]...))
		match := 0
		for i := range v.digests {
			c := &v.digests[i]
			if c.hasHeader {
				match |= subtle.ConstantTimeCompare(d[:], c.header[:])
			}
		}
		if match == 1 {
			return true
		}
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(pass))
	match := 0
	for i := range v.digests {
		c := &v.digests[i]
		match |= subtle.ConstantTimeCompare(u[:], c.user[:]) & subtle.ConstantTimeCompare(p[:], c.pass[:])
	}
	return match == 1
}
