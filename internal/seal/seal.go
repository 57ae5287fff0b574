// Package seal encrypts small values the broker keeps in its state (user parameters,
// Cloudify inputs) with AES-256-GCM, so that the store never holds them in clear text.
//
// The embedded shape keeps the key in a file in the data directory (created with mode
// 0600 on first start); the AWS shape can pass a key from Secrets Manager. A sealed
// value is version byte 1, a 12-byte nonce, then the ciphertext and its tag.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

const version = 1

// KeySize is the key length in bytes.
const KeySize = 32

// AEAD seals and opens values with one AES-256-GCM key.
type AEAD struct {
	gcm cipher.AEAD
}

// New returns an AEAD for a 32-byte key.
func New(key []byte) (*AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &AEAD{gcm: gcm}, nil
}

// Seal encrypts plaintext. A nil or empty plaintext seals to nil.
func (a *AEAD) Seal(plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, nil
	}
	out := make([]byte, 1+a.gcm.NonceSize(), 1+a.gcm.NonceSize()+len(plaintext)+a.gcm.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return a.gcm.Seal(out, out[1:], plaintext, []byte{version}), nil
}

// Open decrypts a value made by Seal with the same key. nil opens to nil.
func (a *AEAD) Open(sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	n := a.gcm.NonceSize()
	if len(sealed) < 1+n+a.gcm.Overhead() || sealed[0] != version {
		return nil, errors.New("seal: not a sealed value")
	}
	plain, err := a.gcm.Open(nil, sealed[1:1+n], sealed[1+n:], []byte{version})
	if err != nil {
		return nil, errors.New("seal: cannot open: wrong key or damaged value")
	}
	return plain, nil
}

// ErrKeyFileMode is returned (wrapped) by LoadOrCreateKeyFile for a key file that
// the group or others may read or write.
var ErrKeyFileMode = errors.New("seal: the key file is accessible to group or others")

// LoadOrCreateKeyFile reads a hex-encoded key from path, creating the file with a new
// random key (mode 0600) when it does not exist. An existing file that the group or
// others may access is refused (ErrKeyFileMode), as ssh refuses such a private key:
// whoever reads it opens every sealed parameter.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	if fi, err := os.Stat(path); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; restrict it with chmod 600 %s", ErrKeyFileMode, path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) != KeySize {
			return nil, fmt.Errorf("seal: %s does not hold a %d-byte hex key", path, KeySize)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("seal: read key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("seal: new key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process made it first
			return LoadOrCreateKeyFile(path)
		}
		return nil, fmt.Errorf("seal: create key: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("seal: write key: %w", err)
	}
	return key, f.Sync()
}
