package session

import (
	"iter"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gitloop-dev/git-loop/gitloop/transcript"
	"github.com/gitloop-dev/git-loop/gitloop/workspace"
)

// Transcript streams the loop's transcript: the agent's newest session
// when it keeps its own (Claude's JSONL under the agent dir's projects/,
// Codex's under sessions/), else the loop's run logs. Files are read line
// by line, never whole. Iteration stops at the first error.
func Transcript(s *workspace.Workspace, name string) iter.Seq2[transcript.Entry, error] {
	return TranscriptOf(s, name, transcript.Options{})
}

// TranscriptOf is Transcript with options.
func TranscriptOf(s *workspace.Workspace, name string, opts transcript.Options) iter.Seq2[transcript.Entry, error] {
	return func(yield func(transcript.Entry, error) bool) {
		format, files, err := TranscriptFiles(s, name, opts)
		if err != nil {
			yield(transcript.Entry{}, err)
			return
		}
		for _, f := range files {
			if !transcript.ReadFileUnder(TranscriptBase(s, name, f), f, format, yield) {
				return
			}
		}
	}
}

// TranscriptBase is the directory a transcript file is opened under
// (transcript.ReadFileUnder): the loop's host-only part for run logs, its
// sandbox part for the agent's session files. Neither can be replaced by
// the sandbox; everything inside the sandbox part can, so no symlink in
// it may lead the host's read outside.
func TranscriptBase(s *workspace.Workspace, name, file string) string {
	if host := s.Store().HostDir(name); strings.HasPrefix(file, host+string(filepath.Separator)) {
		return host
	}
	return s.Store().LoopDir(name)
}

// TranscriptFiles are the files the loop's transcript is read from, in
// order, and their format; none is not an error.
func TranscriptFiles(s *workspace.Workspace, name string, opts transcript.Options) (transcript.Format, []string, error) {
	m, err := s.Get(name)
	if err != nil {
		return "", nil, err
	}
	pick := func(files []string) []string {
		if !opts.All && len(files) > 1 {
			return files[len(files)-1:]
		}
		return files
	}
	dir := s.AgentDir(m.Name)
	if files := transcript.ClaudeSessionFiles(dir); len(files) > 0 {
		return transcript.Claude, pick(files), nil
	}
	if files := transcript.CodexSessionFiles(dir); len(files) > 0 {
		return transcript.Codex, pick(files), nil
	}
	logs, _ := filepath.Glob(filepath.Join(s.LogDir(m.Name), "*"+transcript.RunLogSuffix))
	sort.Strings(logs)
	return transcript.RunLog, logs, nil
}
