package security

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed common-passwords.txt
var commonPasswordsText string

var (
	commonOnce sync.Once
	common     map[string]bool
)

// IsCommonPassword reports whether the lower-cased password is on the embedded list of commonly used
// passwords (those long enough to pass the length rule).
func IsCommonPassword(lower string) bool {
	commonOnce.Do(func() {
		common = map[string]bool{}
		for _, l := range strings.Split(commonPasswordsText, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				common[strings.ToLower(l)] = true
			}
		}
	})
	return common[lower]
}
