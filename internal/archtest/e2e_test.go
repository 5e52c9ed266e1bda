package archtest

import (
	"strings"
	"testing"
)

// TestEndToEndSuites keeps the suites under e2e/ driving git loop the way
// a user does: through the git-loop binary, or in-process through
// cmd/cmdtest, the one package of cmd/ they may import (cmd/internal is
// closed to them anyway). cmdtest in turn is for tests only.
func TestEndToEndSuites(t *testing.T) {
	for _, p := range packages(t) {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		if under(p.ImportPath, "e2e") {
			if len(p.Imports) > 0 {
				t.Errorf("%s has non-test code importing %v: e2e/ holds test suites only", rel, p.Imports)
			}
			for _, imp := range append(append([]string{}, p.TestImports...), p.XTestImports...) {
				if under(imp, "cmd") && !under(imp, "cmd/cmdtest") {
					t.Errorf("%s imports %s: end-to-end suites reach the command tree through cmd/cmdtest or the binary", rel, imp)
				}
			}
		}
		for _, imp := range p.Imports {
			if under(imp, "cmd/cmdtest") && !under(p.ImportPath, "cmd/cmdtest") {
				t.Errorf("%s imports %s outside its tests: cmdtest is a test helper", rel, imp)
			}
		}
	}
}
