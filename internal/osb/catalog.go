package osb

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cfybroker/cfybroker/internal/broker"
	"github.com/cfybroker/cfybroker/internal/catalogview"
)

// renderedCatalog is a catalog as served: its body and its ETag header.
type renderedCatalog struct {
	etag       string   // broker.Catalog.ETag
	etagHeader []string // the quoted entity tag; nil when the catalog has none usable
	body       rawJSON
	// contentLength is the Content-Length header of body. net/http computes it only
	// for a body that fits its 2 KB buffer; a catalog is larger, and would otherwise
	// go out in chunks, with their framing and one more write.
	contentLength []string
}

// getCatalog serves GET /v2/catalog. The body is rendered once per ETag and kept:
// platforms poll the catalog, and a poll of an unchanged catalog does no JSON work.
func (h *handler) getCatalog(x *exchange) (int, any, error) {
	c, err := h.b.Catalog(x.r.Context())
	if err != nil {
		return 0, nil, err
	}
	rc := h.catalog.Load()
	if rc == nil || rc.etag != c.ETag || rc.etagHeader == nil {
		if rc, err = renderCatalog(c); err != nil {
			return 0, nil, err
		}
		if rc.etagHeader != nil {
			h.catalog.Store(rc)
		}
	}
	// The catalog's answer, for the log, is its ETag: hashing 14 KB a request would
	// cost more than the log line it spares.
	x.answer, x.answerSet = answerHash(rc.etag), rc.etagHeader != nil
	if rc.etagHeader != nil {
		x.w.Header()[headerETag] = rc.etagHeader
		if inm := firstValue(x.r.Header, headerIfNoneMatch); inm != "" && etagMatches(inm, rc.etag) {
			return http.StatusNotModified, nil, nil
		}
	}
	x.w.Header()[headerContentLength] = rc.contentLength
	// &rc.body: a pointer boxes without an allocation, a slice would not.
	return http.StatusOK, &rc.body, nil
}

// renderCatalog renders c to the OSB catalog JSON. A catalog whose ETag is empty, or
// holds a character an entity tag cannot, is served without ETag and not cached.
func renderCatalog(c broker.Catalog) (*renderedCatalog, error) {
	out := catalogview.View(c)
	body, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("osb: render catalog %q: %w", c.ETag, err)
	}
	rc := &renderedCatalog{etag: c.ETag, body: body, contentLength: []string{strconv.Itoa(len(body))}}
	if c.ETag != "" && validETag(c.ETag) {
		rc.etagHeader = []string{`"` + c.ETag + `"`}
	}
	return rc, nil
}

// validETag reports whether tag can go between the quotes of an entity tag
// (RFC 9110: %x21 / %x23-7E / obs-text).
func validETag(tag string) bool {
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; c < 0x21 || c == '"' || c == 0x7f {
			return false
		}
	}
	return true
}

// etagMatches reports whether an If-None-Match value matches tag, with the weak
// comparison RFC 9110 prescribes for If-None-Match: "*" matches, W/ is ignored.
func etagMatches(header, tag string) bool {
	for header != "" {
		var item string
		item, header, _ = strings.Cut(header, ",")
		item = strings.TrimSpace(item)
		if item == "*" {
			return true
		}
		item = strings.TrimPrefix(item, "W/")
		if len(item) >= 2 && item[0] == '"' && item[len(item)-1] == '"' && item[1:len(item)-1] == tag {
			return true
		}
	}
	return false
}
