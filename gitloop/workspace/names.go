package workspace

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLen bounds loop names: they become directory names, container
// names and branch names, all of which have limits of their own.
const MaxNameLen = 64

// ValidateName checks a loop name: 1–64 characters of [A-Za-z0-9._-], not
// starting with "." or "-", no "..", not ending in ".lock", and a valid git
// branch once prefix is put in front. It runs before any state changes.
func ValidateName(name, prefix string) error {
	if err := validName(name); err != nil {
		return &UsageError{Err: fmt.Errorf("invalid loop name %q: %w", name, err)}
	}
	if err := CheckRefFormat("refs/heads/" + prefix + name); err != nil {
		return &UsageError{Err: fmt.Errorf("invalid loop name %q: branch %s%s %w", name, prefix, name, err)}
	}
	return nil
}

func validName(name string) error {
	switch {
	case name == "":
		return errors.New("a name is required")
	case len(name) > MaxNameLen:
		return fmt.Errorf("longer than %d characters", MaxNameLen)
	case name[0] == '.' || name[0] == '-':
		return errors.New("must not start with '.' or '-'")
	case strings.Contains(name, ".."):
		return errors.New("must not contain '..'")
	case strings.HasSuffix(name, ".lock"):
		return errors.New("must not end in '.lock'")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("character %q not allowed (use letters, digits, '.', '_' and '-')", r)
		}
	}
	return nil
}

// CheckRefFormat implements the rules of git check-ref-format for a full
// ref name, so names can be checked without running git (and fuzzed
// against it).
func CheckRefFormat(ref string) error {
	if ref == "" || ref == "@" {
		return errors.New("is not a valid ref name")
	}
	if strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, ".") {
		return errors.New("must not end in '/' or '.'")
	}
	if strings.Contains(ref, "..") || strings.Contains(ref, "@{") || strings.Contains(ref, "//") {
		return errors.New("must not contain '..', '@{' or '//'")
	}
	for _, c := range []byte(ref) {
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return fmt.Errorf("must not contain %q", c)
		}
	}
	for _, comp := range strings.Split(ref, "/") {
		if comp == "" || strings.HasPrefix(comp, ".") || strings.HasSuffix(comp, ".lock") {
			return errors.New("has a component that is empty, starts with '.' or ends in '.lock'")
		}
	}
	if !strings.Contains(ref, "/") {
		return errors.New("must contain a '/'")
	}
	return nil
}
