package main

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestStaticBuild builds cfybroker as infra/kubernetes/Dockerfile does (CGO_ENABLED=0,
// -trimpath, -s -w) and checks that the result runs on an image without libc: an ELF
// executable with no interpreter (PT_INTERP) and no shared library (DT_NEEDED). It
// also checks the Dockerfile still builds that way and runs as the unprivileged user
// on a base without a shell.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	root := benchRepoRoot(t)
	dockerfile, err := os.ReadFile(filepath.Join(root, "infra/kubernetes/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(dockerfile)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`RUN CGO_ENABLED=0 .*\\\n\s+go build -trimpath -ldflags="-s -w" -o /out/cfybroker ./cmd/cfybroker`),
		regexp.MustCompile(`(?m)^USER 65532:65532$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/usr/local/bin/cfybroker"\]$`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile does not match %s", want)
		}
	}
	froms := regexp.MustCompile(`(?m)^FROM (\S+)(?: AS \S+)?$|^FROM --platform=\S+ (\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build", len(froms))
	}
	if final := froms[len(froms)-1][1]; final != "scratch" && !strings.HasPrefix(final, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s: want distroless/static or scratch (no shell, no libc)", final)
	}

	// Build from what the Dockerfile copies into its build stage, and nothing else
	// (no testdata, as its .dockerignore says): the image's context is enough.
	context := t.TempDir()
	var copied []string
	for _, m := range regexp.MustCompile(`(?m)^COPY ([^-\n][^\n]*)$`).FindAllStringSubmatch(df, -1) {
		fields := strings.Fields(m[1])
		for _, src := range fields[:len(fields)-1] {
			copyContext(t, filepath.Join(root, src), filepath.Join(context, src))
			copied = append(copied, src)
		}
	}
	if !slices.Contains(copied, "go.mod") || !slices.Contains(copied, "cmd/") {
		t.Fatalf("the Dockerfile's build stage copies %v; want go.mod and the sources", copied)
	}
	bin := filepath.Join(t.TempDir(), "cfybroker")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/cfybroker")
	cmd.Dir = context
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC {
		t.Errorf("ELF type %s, want ET_EXEC (a position-dependent static executable)", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has an ELF interpreter (PT_INTERP): it is dynamically linked")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if f.Section(".dynamic") != nil {
		t.Errorf("the binary has a .dynamic section")
	}
	if st, err := os.Stat(bin); err == nil {
		t.Logf("static cfybroker (linux/%s, -s -w): %.1f MB", runtime.GOARCH, float64(st.Size())/1e6)
	}

	// Control: the check would see a cgo build as dynamic (where cgo works here).
	if _, err := exec.LookPath("gcc"); err == nil && runtime.GOOS == "linux" {
		dyn := filepath.Join(t.TempDir(), "cfybroker-cgo")
		cmd := exec.Command("go", "build", "-o", dyn, "./cmd/cfybroker")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("cgo control build failed, skipped: %v\n%s", err, out)
			return
		}
		g, err := elf.Open(dyn)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if libs, _ := g.ImportedLibraries(); len(libs) == 0 {
			t.Errorf("control: a CGO_ENABLED=1 build shows no shared library; the check above proves nothing")
		}
	}
}

// copyContext copies a file or a tree, leaving out testdata folders and tests.
func copyContext(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir() && d.Name() == "testdata":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case strings.HasSuffix(p, "_test.go"):
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestImageWithoutEngine: make image's script fails, naming every tool and why, when
// no tool has a working engine: none installed, or a docker client whose daemon does
// not answer.
func TestImageWithoutEngine(t *testing.T) {
	root := benchRepoRoot(t)
	bin := t.TempDir()
	for _, tool := range []string{"bash", "dirname", "tail"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found", tool)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	run := func(t *testing.T, env ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "bash"), ".ci/build-image.sh", "cfybroker:test")
		cmd.Dir = root
		cmd.Env = append([]string{"PATH=" + bin, "HOME=" + t.TempDir()}, env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}

	t.Run("no tool", func(t *testing.T) {
		code, out := run(t)
		if code == 0 {
			t.Fatalf("exit 0 without any container tool:\n%s", out)
		}
		for _, want := range []string{"docker: not installed", "podman: not installed", "buildah: not installed", "TestStaticBuild"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("docker client without a daemon", func(t *testing.T) {
		docker, err := exec.LookPath("docker")
		if err != nil {
			t.Skip("no docker client installed")
		}
		if err := os.Symlink(docker, filepath.Join(bin, "docker")); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(bin, "docker"))
		sock := "unix://" + filepath.Join(t.TempDir(), "no-daemon.sock")
		code, out := run(t, "DOCKER_HOST="+sock, "CONTAINER_TOOL=docker")
		if code == 0 || !strings.Contains(out, "docker: installed, but its engine does not answer") {
			t.Errorf("exit %d, output:\n%s\nwant a failure naming the unreachable engine", code, out)
		}
	})
}
