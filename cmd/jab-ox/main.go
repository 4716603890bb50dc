// Command jab-ox is jab with OpenPGP for XMPP (XEP-0373/0374): jab keys,
// send --encrypt, and listen and the REPL for an account with a key.
// Plain jab leaves the crypto out, to keep a cold send small, and runs
// jab-ox, same command line, when a command needs it; jab-ox itself
// never runs another binary. Install it next to jab: make install, or
//
//	go install github.com/jab-xmpp/jab/cmd/jab-ox@latest
package main

import (
	"os"

	"github.com/jab-xmpp/jab/commands"
	"github.com/jab-xmpp/jab/commands/oxcli"
)

func main() {
	oxcli.Register()
	os.Exit(commands.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
