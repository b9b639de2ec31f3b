package repofs_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/medic-bot/medic/patchers/repofs"
	"github.com/medic-bot/medic/patchers/repofs/repofstest"
)

func TestOpenDir(t *testing.T) {
	d, err := repofs.OpenDir(repofstest.Disk(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	repofstest.Check(t, d.FS())
}

func TestConfineMapFS(t *testing.T) {
	repofstest.Check(t, repofs.Confine(repofstest.Map()))
}

func TestConfineInvalid(t *testing.T) {
	fsys := repofs.Confine(repofstest.Map())
	for _, p := range []string{"../outside/secret.yaml", "/etc/passwd", "a//b", ""} {
		if _, err := fs.ReadFile(fsys, p); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ReadFile(%q) = %v, want ErrInvalid", p, err)
		}
	}
}
