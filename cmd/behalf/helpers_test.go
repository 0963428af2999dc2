package main

import (
	"time"

	"behalf/internal/clock"
	"behalf/security"

	"gorm.io/gorm"
)

func newTestSecurity(db *gorm.DB) *security.Service {
	return security.New(db, clock.Real{}, security.NewHasher(security.DefaultArgon2, 2, time.Second), security.DefaultOptions, nil)
}
