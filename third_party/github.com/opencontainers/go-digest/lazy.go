package digest

import (
	"regexp"
	"sync"
)

// git loop's patch: the patterns of this package are compiled on first
// use instead of at package initialisation, where they cost every git loop
// process a few hundred microseconds (and a deep stack for the counted
// repetitions), though few ever validate a digest. The exported variables
// keep their names; they offer the *regexp.Regexp methods this package and
// its users in git loop's build call.

// lazyRegexp is a regular expression compiled the first time it is used.
type lazyRegexp struct {
	pattern string
	once    sync.Once
	re      *regexp.Regexp
}

func lazy(pattern string) *lazyRegexp { return &lazyRegexp{pattern: pattern} }

func (l *lazyRegexp) get() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.pattern) })
	return l.re
}

// MatchString reports whether s contains any match of the expression.
func (l *lazyRegexp) MatchString(s string) bool { return l.get().MatchString(s) }

// String returns the source text of the expression.
func (l *lazyRegexp) String() string { return l.pattern }
