package dynamostore

// WithChunking sets the chunk size and the most chunks of a stored document, so that
// tests exercise chunking with small documents.
func WithChunking(size, maxChunks int) Option {
	return func(t *Table) {
		t.chunkSize, t.maxChunks = size, maxChunks
	}
}
