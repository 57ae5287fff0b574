package cloudify

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// list fetches every page of a list endpoint (GET /blueprints, ...) or a
// search endpoint (POST /searches/..., body repeated on each page). It pages
// with _offset/_size until offset+len(items) >= metadata.pagination.total,
// an empty page arrives or opts.Limit items were read. metadata.size is not
// used: it is the applied page size (0 before 4.5.5), not the item count.
func list[T any](ctx context.Context, c *Client, op, method, path string, opts ListOptions, body any) ([]T, error) {
	if opts.PageSize < 0 || opts.Limit < 0 {
		return nil, fmt.Errorf("cloudify: %s: negative PageSize or Limit", op)
	}
	size := opts.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	base := opts.query()
	all := make([]T, 0)
	offset := 0
	for {
		n := size
		if opts.Limit > 0 && opts.Limit-len(all) < n {
			n = opts.Limit - len(all)
		}
		q := url.Values{}
		for k, v := range base {
			q[k] = append([]string(nil), v...)
		}
		q.Set("_offset", strconv.Itoa(offset))
		q.Set("_size", strconv.Itoa(n))

		var page listPage[T]
		if _, err := c.do(ctx, request{op: op, method: method, path: path, query: q, body: body, out: &page}); err != nil {
			return nil, err
		}
		if len(page.Items) == 0 {
			return all, nil
		}
		all = append(all, page.Items...)
		if opts.Limit > 0 && len(all) >= opts.Limit {
			return all[:opts.Limit], nil
		}
		if offset+len(page.Items) >= page.Metadata.Pagination.Total {
			return all, nil
		}
		offset += len(page.Items)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("cloudify: %s: %w", op, &callerContextError{err: err})
		}
	}
}
