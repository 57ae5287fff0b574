// Command barehttp is the baseline of the external load measurement (make bench): a bare
// net/http server that answers each configured path with fixed bytes, as fast as the
// standard library can, so that the broker's throughput can be compared with it on the
// same machine in alternating rounds. It is a developer tool and is not shipped.
//
//	barehttp -listen 127.0.0.1:0 -route /v2/catalog=catalog.json -route /v2/x=x.json
//
// It prints "listening on ADDR" on stdout once it accepts connections, and stops on
// SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// routes maps a path to the file whose bytes answer it.
type routes map[string]string

func (r routes) String() string { return fmt.Sprint(map[string]string(r)) }

func (r routes) Set(v string) error {
	path, file, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(path, "/") || file == "" {
		return errors.New("want PATH=FILE")
	}
	r[path] = file
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "barehttp:", err)
		os.Exit(1)
	}
}

func run() error {
	rt := routes{}
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Var(rt, "route", "PATH=FILE: answer GET PATH with the bytes of FILE (repeatable)")
	flag.Parse()
	bodies := make(map[string][]byte, len(rt))
	for path, file := range rt {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		bodies[path] = b
	}
	contentType := []string{"application/json"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header()["Content-Type"] = contentType
		_, _ = w.Write(b)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Printf("listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
