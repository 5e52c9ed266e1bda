package bwrap

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProgramError: bwrap's own execvp report, or a program on no
// directory of the sandbox's PATH, is a ProgramError; a program that is
// there is not, whatever it exited with.
func TestProgramError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "there"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=/x", "PATH=" + dir}
	if pe := programError("go", "bwrap: execvp go: No such file or directory", env); pe == nil || pe.Reason != "No such file or directory" || pe.Code() != 127 {
		t.Errorf("execvp report: %#v", pe)
	}
	if pe := programError("/etc/passwd", "bwrap: execvp /etc/passwd: Permission denied", env); pe == nil || pe.Code() != 126 {
		t.Errorf("not executable: %#v", pe)
	}
	if pe := programError("go", "bwrap: Can't find source path /nope: No such file or directory", env); pe != nil {
		t.Errorf("a setup failure taken for a missing program: %#v", pe)
	}
	if pe := missingProgram("gone", env); pe == nil {
		t.Errorf("a program on no PATH directory was not missing")
	}
	if pe := missingProgram("there", env); pe != nil {
		t.Errorf("a program on PATH was missing: %#v", pe)
	}
	if pe := missingProgram(filepath.Join(dir, "nope"), env); pe == nil {
		t.Errorf("a missing path was not missing")
	}
}
