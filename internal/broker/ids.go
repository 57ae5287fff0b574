package broker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// MaxIDLength is the longest instance, binding, service or plan id accepted.
const MaxIDLength = 255

// ValidateID checks an OSB id (instance, binding, service, plan): non-empty, at most
// MaxIDLength bytes, and only characters that need no escaping in a URL path and that
// every store and Cloudify accept: A-Z a-z 0-9 - . _ ~. what names the id in the message.
func ValidateID(what, id string) error {
	if id == "" {
		return Errorf(EInvalid, "%s is missing", what)
	}
	if len(id) > MaxIDLength {
		return Errorf(EInvalid, "%s is %d characters long; at most %d are accepted", what, len(id), MaxIDLength)
	}
	for _, r := range id {
		if !unreserved(r) {
			return Errorf(EInvalid, "%s contains %q; only letters, digits and - . _ ~ are accepted", what, r)
		}
	}
	return nil
}

func unreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~'
}

// DeploymentPrefix starts every deployment id the broker creates. Managers up to 5.2
// require a deployment id to start with a letter, and OSB instance ids are usually GUIDs
// that may start with a digit.
const DeploymentPrefix = "osb-"

// DeploymentID derives the Cloudify deployment id of an instance: the prefix and the
// instance id when that is valid on every manager version (letters, digits, - . _ and at
// most 200 characters), else the prefix and a hash of the instance id. The same instance
// id always gives the same deployment id, so a deployment can be found again.
func DeploymentID(instanceID string) string {
	ok := len(instanceID) > 0 && len(instanceID) <= 200
	for _, r := range instanceID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			ok = false
			break
		}
	}
	if ok {
		return DeploymentPrefix + instanceID
	}
	sum := sha256.Sum256([]byte(instanceID))
	return DeploymentPrefix + "h-" + hex.EncodeToString(sum[:16])
}

// fingerprint hashes the attributes that make two requests "identical" in OSB terms.
// Parameters are compared as JSON values (key order and spacing do not matter).
func fingerprint(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		b, err := json.Marshal(canonical(p))
		if err != nil {
			b = []byte(fmt.Sprint(p))
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonical turns raw JSON into a value whose encoding is canonical (encoding/json
// sorts map keys).
func canonical(v any) any {
	switch x := v.(type) {
	case json.RawMessage:
		if len(x) == 0 {
			return nil
		}
		var out any
		if err := json.Unmarshal(x, &out); err != nil {
			return string(x)
		}
		return out
	default:
		return v
	}
}
