package serverless

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cfybroker/cfybroker/internal/basicauth"
	"github.com/cfybroker/cfybroker/internal/seal"
)

// SecretsAPI is the part of the Secrets Manager client that the functions use;
// *secretsmanager.Client satisfies it. Errors are faults (missing secret, no access,
// network), reported at cold start.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Secrets are the values read from Secrets Manager at cold start. They stay in memory
// for the life of the function instance (a rotated secret reaches an instance at its
// next cold start) and are never logged: String hides them.
type Secrets struct {
	// Broker are the accepted Basic-auth credentials of the OSB API.
	Broker []basicauth.Credential
	// CloudifyUsername and CloudifyPassword, or CloudifyToken, authenticate to the
	// manager.
	CloudifyUsername string
	CloudifyPassword string
	CloudifyToken    string
	// SealKey is the AES-256 key of the sealer.
	SealKey []byte
	// CloudifyCABundle is PEM CA certificates the Cloudify client trusts (not a
	// secret, but kept beside the credentials it protects).
	CloudifyCABundle []byte
}

// String names what is set and hides every value.
func (s Secrets) String() string {
	users := make([]string, len(s.Broker))
	for i, c := range s.Broker {
		users[i] = c.String()
	}
	return fmt.Sprintf("Secrets{Broker: [%s], Cloudify: %s, SealKey: %d bytes}",
		strings.Join(users, " "), map[bool]string{true: "token", false: "basic auth"}[s.CloudifyToken != ""], len(s.SealKey))
}

// GoString is String, so that %#v hides the values too.
func (s Secrets) GoString() string { return s.String() }

// secretSet selects the secrets a function needs.
type secretSet struct {
	broker, cloudify, sealKey bool
}

// LoadSecrets reads the secrets that cfg names (those whose ARN is set) through
// client, once, and parses them:
//
//   - CloudifySecretARN: {"username": ..., "password": ...} or {"token": ...};
//   - BrokerSecretARN: {"credentials": [{"username": ..., "password": ...}, ...]},
//     at least one pair, none empty;
//   - SealKeySecretARN: the 32-byte key, hex-encoded (64 hex digits);
//   - CloudifyCABundleSecretARN (with the Cloudify secret): PEM CA certificates.
//
// Errors name the secret's ARN and what is wrong with its form, never its content.
func LoadSecrets(ctx context.Context, client SecretsAPI, cfg Config) (Secrets, error) {
	return loadSecrets(ctx, client, cfg, secretSet{
		broker: cfg.BrokerSecretARN != "", cloudify: cfg.CloudifySecretARN != "" || cfg.CloudifyCABundleSecretARN != "",
		sealKey: cfg.SealKeySecretARN != "",
	})
}

func loadSecrets(ctx context.Context, client SecretsAPI, cfg Config, want secretSet) (Secrets, error) {
	var s Secrets
	if client == nil {
		return s, fmt.Errorf("serverless: secrets: no Secrets Manager client")
	}
	if want.cloudify && cfg.CloudifyCABundleSecretARN != "" {
		raw, err := getSecret(ctx, client, cfg.CloudifyCABundleSecretARN)
		if err != nil {
			return Secrets{}, err
		}
		if !strings.Contains(raw, "-----BEGIN CERTIFICATE-----") {
			return Secrets{}, fmt.Errorf("serverless: secret %s holds no PEM certificate", cfg.CloudifyCABundleSecretARN)
		}
		s.CloudifyCABundle = []byte(raw)
	}
	if want.cloudify && cfg.CloudifySecretARN != "" {
		raw, err := getSecret(ctx, client, cfg.CloudifySecretARN)
		if err != nil {
			return Secrets{}, err
		}
		var v struct {
			Username string `json:"username"`
			Password string `json:"password"`
			Token    string `json:"token"`
		}
		if json.Unmarshal([]byte(raw), &v) != nil {
			return Secrets{}, fmt.Errorf("serverless: secret %s is not a JSON object", cfg.CloudifySecretARN)
		}
		switch {
		case v.Token != "":
			s.CloudifyToken = v.Token
		case v.Username != "" && v.Password != "":
			s.CloudifyUsername, s.CloudifyPassword = v.Username, v.Password
		default:
			return Secrets{}, fmt.Errorf("serverless: secret %s holds neither a token nor a username and password", cfg.CloudifySecretARN)
		}
	}
	if want.broker {
		raw, err := getSecret(ctx, client, cfg.BrokerSecretARN)
		if err != nil {
			return Secrets{}, err
		}
		var v struct {
			Credentials []struct {
				Username string `json:"username"`
				Password string `json:"password"`
			} `json:"credentials"`
		}
		if json.Unmarshal([]byte(raw), &v) != nil {
			return Secrets{}, fmt.Errorf("serverless: secret %s is not a JSON object with a credentials list", cfg.BrokerSecretARN)
		}
		if len(v.Credentials) == 0 {
			return Secrets{}, fmt.Errorf("serverless: secret %s holds no credentials", cfg.BrokerSecretARN)
		}
		for i, c := range v.Credentials {
			if c.Username == "" || c.Password == "" {
				return Secrets{}, fmt.Errorf("serverless: secret %s: credential %d has an empty username or password", cfg.BrokerSecretARN, i)
			}
			s.Broker = append(s.Broker, basicauth.Credential{Username: c.Username, Password: c.Password})
		}
	}
	if want.sealKey {
		raw, err := getSecret(ctx, client, cfg.SealKeySecretARN)
		if err != nil {
			return Secrets{}, err
		}
		key, err := hex.DecodeString(strings.TrimSpace(raw))
		if err != nil || len(key) != seal.KeySize {
			return Secrets{}, fmt.Errorf("serverless: secret %s is not %d hex-encoded bytes", cfg.SealKeySecretARN, seal.KeySize)
		}
		s.SealKey = key
	}
	return s, nil
}

// getSecret returns a secret's string value.
func getSecret(ctx context.Context, client SecretsAPI, arn string) (string, error) {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("serverless: read secret %s: %w", arn, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("serverless: secret %s has no string value", arn)
	}
	return *out.SecretString, nil
}
