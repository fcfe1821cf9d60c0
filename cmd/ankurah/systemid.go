package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ankurah/ankurah-go/core/id"
)

// systemIDFor returns the system id a server keeps across restarts on the
// same data, so browsers that cached its entities keep their cache (and
// their unsent offline commits) when it comes back. For bolt://PATH it
// lives in PATH.system-id beside the database file, created on first use.
// Other engines get "" (a fresh id per start) until the storage contract
// can hold it.
func systemIDFor(storageURL string) (string, error) {
	path, ok := strings.CutPrefix(storageURL, "bolt://")
	if !ok || path == "" {
		return "", nil
	}
	file := path + ".system-id"
	b, err := os.ReadFile(file)
	if err == nil {
		sid := strings.TrimSpace(string(b))
		if _, err := id.ParseULID(sid); err != nil {
			return "", fmt.Errorf("system id file %s: %w", file, err)
		}
		return sid, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("system id file: %w", err)
	}
	var u id.ULID
	if err := u.SetTime(uint64(time.Now().UnixMilli())); err != nil {
		return "", err
	}
	entropy := make([]byte, 10)
	if _, err := rand.Read(entropy); err != nil {
		return "", err
	}
	if err := u.SetEntropy(entropy); err != nil {
		return "", err
	}
	sid := u.String()
	if err := os.WriteFile(file, []byte(sid+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("system id file: %w", err)
	}
	return sid, nil
}
