// Command jab-devserver runs a throwaway Prosody on a free loopback port
// with two accounts, for trying jab by hand (the README's quick start). It
// writes the settings jab needs as shell exports to a file and prints
// them, then runs until interrupted, and removes everything on exit.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jab-xmpp/jab/internal/prosody"
)

func main() {
	envFile := flag.String("env", "jab-dev.env", "write the shell exports to this `FILE`")
	flag.Parse()
	if err := prosody.Available(); err != nil {
		fmt.Fprintln(os.Stderr, "jab-devserver:", err, "(run 'make deps' first)")
		os.Exit(1)
	}
	srv, err := prosody.Start(prosody.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "jab-devserver:", err)
		os.Exit(1)
	}
	defer srv.Stop()
	accounts := []struct{ user, password string }{{"me", "me-secret"}, {"alice", "alice-secret"}}
	for _, a := range accounts {
		if err := srv.Register(a.user, a.password); err != nil {
			fmt.Fprintln(os.Stderr, "jab-devserver:", err)
			return
		}
	}
	exports := fmt.Sprintf("export JAB_SERVER=%s JAB_CA_FILE=%s\n", srv.Addr, srv.CAFile)
	if err := os.WriteFile(*envFile, []byte(exports), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "jab-devserver:", err)
		return
	}
	fmt.Printf("Prosody for %s is listening on %s (STARTTLS, CA %s).\n", srv.Domain, srv.Addr, srv.CAFile)
	for _, a := range accounts {
		fmt.Printf("  account %s@%s password %s\n", a.user, srv.Domain, a.password)
	}
	fmt.Printf("Settings written to %s:\n  %s", *envFile, exports)
	fmt.Println("Press Ctrl-C to stop it.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
