module github.com/jab-xmpp/jab

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/ProtonMail/go-crypto v1.5.2
	github.com/chzyer/readline v1.5.1
	github.com/google/uuid v1.6.0
	github.com/urfave/cli/v2 v2.27.7
	golang.org/x/term v0.47.0
)

require (
	github.com/cloudflare/circl v1.6.3 // indirect
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/crypto v0.41.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
