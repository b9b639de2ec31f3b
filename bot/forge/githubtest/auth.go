package githubtest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

type installation struct {
	id      int64
	account string
	created time.Time
}

type token struct {
	installation int64
	expires      time.Time
}

// AppID is the test App's id.
func (s *Server) AppID() int64 { return s.appID }

// PrivateKeyPEM is the test App's private key (PKCS#1 PEM), as GitHub
// hands it to an App's owner.
func (s *Server) PrivateKeyPEM() []byte { return append([]byte(nil), s.keyPEM...) }

// AddInstallation installs the test App on account (a user or an
// organization) and returns the installation id. Repositories join it
// with RepoOptions.Installation.
func (s *Server) AddInstallation(account string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addInstallationLocked(account)
}

func (s *Server) addInstallationLocked(account string) int64 {
	s.nextID++
	id := s.nextID
	s.installations[id] = &installation{id: id, account: account, created: s.now()}
	return id
}

// TokenValid reports whether tok is an installation token the double
// issued and that has not expired, so that a git server can accept the
// same tokens.
func (s *Server) TokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.liveToken(tok)
	return ok
}

// TokenRepos returns the repositories ("owner/name") an installation
// token may access; none when it is not valid.
func (s *Server) TokenRepos(tok string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.liveToken(tok)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range s.repos {
		if r.opts.Installation == inst {
			out = append(out, r.opts.Owner+"/"+r.opts.Name)
		}
	}
	return out
}

// ExpireTokens makes every installation token issued so far expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.now().Add(-time.Second)
	for k, t := range s.tokens {
		t.expires = past
		s.tokens[k] = t
	}
}

func (s *Server) liveToken(tok string) (int64, bool) {
	t, ok := s.tokens[tok]
	if !ok || !s.now().Before(t.expires) {
		return 0, false
	}
	return t.installation, true
}

func (s *Server) issueTokenLocked(inst int64) (string, time.Time) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	b.WriteString("ghs_")
	for i := 0; i < 36; i++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b.WriteByte(alphabet[n.Int64()])
	}
	exp := s.now().Add(s.tokenLifetime).UTC().Truncate(time.Second)
	s.tokens[b.String()] = token{installation: inst, expires: exp}
	return b.String(), exp
}

// credentials returns the token of an Authorization header ("token X" or
// "Bearer X"), empty when there is none.
func credentials(h string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "token", "bearer":
		return strings.TrimSpace(tok)
	}
	return ""
}

// maxJWTAhead is how far in the future GitHub accepts an App JWT's exp.
const maxJWTAhead = 10 * time.Minute

// checkAppJWT validates an App JWT as GitHub does: RS256 signed by the
// App's key, iss the App id (a string or a number), iat not in the future
// (a minute of clock drift allowed), exp in the future and at most ten
// minutes ahead.
func (s *Server) checkAppJWT(tok string) error {
	claims := jwt.MapClaims{}
	parser := jwt.Parser{ValidMethods: []string{"RS256"}, SkipClaimsValidation: true}
	if _, err := parser.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil }); err != nil {
		// GitHub's message for anything that is not the App's JWT.
		return errors.New("A JSON web token could not be decoded")
	}
	now := time.Now()
	var iss string
	switch v := claims["iss"].(type) {
	case string:
		iss = v
	case float64:
		iss = strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		iss = v.String()
	}
	if iss != strconv.FormatInt(s.appID, 10) {
		return fmt.Errorf("'Issuer' claim (%q) does not match the App id %d", iss, s.appID)
	}
	iat, ok1 := claims["iat"].(float64)
	exp, ok2 := claims["exp"].(float64)
	if !ok1 || !ok2 {
		return errors.New("'Issued at' and 'Expiration time' claims must be numbers")
	}
	if time.Unix(int64(iat), 0).After(now.Add(time.Minute)) {
		return errors.New("'Issued at' claim ('iat') must be an Integer representing a time in the past")
	}
	expT := time.Unix(int64(exp), 0)
	if !expT.After(now) {
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	if expT.After(now.Add(maxJWTAhead + time.Second)) {
		return errors.New("'Expiration time' claim ('exp') is too far in the future")
	}
	if exp < iat {
		return errors.New("'Expiration time' claim ('exp') is before 'Issued at'")
	}
	return nil
}

// AppJWT returns a JWT for the test App signed with its key, valid for
// nine minutes, for tests that call App endpoints by hand.
func (s *Server) AppJWT() string {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(now.Add(-30 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
		Issuer:    strconv.FormatInt(s.appID, 10),
	})
	signed, err := tok.SignedString(s.key)
	if err != nil {
		s.tb.Fatalf("githubtest: sign app JWT: %v", err)
	}
	return signed
}
