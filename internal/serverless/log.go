package serverless

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// NewLogger returns the function's logger: Lambda's slog handler (lambdacontext),
// which adds the invocation's requestId to every record and writes JSON when the
// function's log format is JSON (AWS_LAMBDA_LOG_FORMAT=JSON; the CDK app sets it).
// Config.LogLevel, when set, replaces the level of the Lambda log configuration.
func NewLogger(cfg Config) *slog.Logger {
	h := lambdacontext.NewLogHandler(lambdacontext.WithFunctionARN())
	if cfg.LogLevel == "" {
		return slog.New(h)
	}
	lv, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return slog.New(h)
	}
	return slog.New(levelHandler{Handler: h, level: lv})
}

// levelHandler decides Enabled by its own level; the handler it wraps writes every
// record it is given (slog handlers filter only in Enabled).
type levelHandler struct {
	slog.Handler
	level slog.Level
}

// Enabled reports whether the level is at or above the configured one.
func (h levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

// WithAttrs keeps the level.
func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{Handler: h.Handler.WithAttrs(attrs), level: h.level}
}

// WithGroup keeps the level.
func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{Handler: h.Handler.WithGroup(name), level: h.level}
}
