package logcat

// Transport lines: TLS, websockets and unix sockets (reference §1.2, §1.3,
// §1.15, Appendix A). Mosquitto's texts, plus a few midge lines (keys under
// "midge.") that explain a refusal Mosquitto would not make.

// TLS set-up and handshakes.
var (
	// peer ip, error text
	TLSConnectFailed = def(&Entry{Key: "tls.connection_failed", Level: Notice, V20: "Client connection from %s failed: %s."})
	// queue index (always 0 in midge), OpenSSL-style error string
	OpenSSLError = def(&Entry{Key: "tls.openssl_error", Level: Err, V20: "OpenSSL Error[%d]: %s"})
	// certfile
	TLSCertLoad = def(&Entry{Key: "tls.cert_load", Level: Err, V20: `Error: Unable to load server certificate "%s". Check certfile.`})
	// keyfile
	TLSKeyLoad     = def(&Entry{Key: "tls.key_load", Level: Err, V20: `Error: Unable to load server key file "%s". Check keyfile.`})
	TLSKeyMismatch = def(&Entry{Key: "tls.key_mismatch", Level: Err, V20: "Error: Server certificate/key are inconsistent."})
	// cafile, capath
	TLSCALoadBoth = def(&Entry{Key: "tls.ca_load_both", Level: Err, V20: `Error: Unable to load CA certificates. Check cafile "%s" and capath "%s".`})
	// cafile
	TLSCALoadFile = def(&Entry{Key: "tls.ca_load_file", Level: Err, V20: `Error: Unable to load CA certificates. Check cafile "%s".`})
	// capath
	TLSCALoadPath = def(&Entry{Key: "tls.ca_load_path", Level: Err, V20: `Error: Unable to load CA certificates. Check capath "%s".`})
	// crlfile
	TLSCRLLoad = def(&Entry{Key: "tls.crl_load", Level: Err, V20: `Error: Unable to load certificate revocation file "%s". Check crlfile.`})
	// tls_version value
	TLSBadVersion = def(&Entry{Key: "tls.bad_version", Level: Err, V20: `Error: Unsupported tls_version "%s".`})
	// ciphers value
	TLSBadCiphers = def(&Entry{Key: "tls.bad_ciphers", Level: Err, V20: `Error: Unable to set TLS ciphers. Check cipher list "%s".`})
	// ciphers_tls1.3 value
	TLSBadCiphers13 = def(&Entry{Key: "tls.bad_ciphers13", Level: Err, V20: `Error: Unable to set TLS 1.3 ciphersuites. Check cipher_tls13 list "%s".`})
	// dhparamfile
	TLSDHParam   = def(&Entry{Key: "tls.dhparam", Level: Err, V20: `Error loading dhparamfile "%s".`})
	TLSPSKHint   = def(&Entry{Key: "tls.psk_hint", Level: Err, V20: "Error: Unable to set TLS PSK hint."})
	TLSNoContext = def(&Entry{Key: "tls.no_context", Level: Err, V20: "Error: Unable to create TLS context."})
	// certfile, keyfile
	TLSReloadFailed = def(&Entry{Key: "tls.reload_failed", Level: Err, V20: "Error when reloading certificate '%s' or key '%s'."})

	// midge: why a cipher list cannot be honoured. element, explanation
	TLSCipherDetail = def(&Entry{Key: "midge.tls_cipher_detail", Level: Err, V20: `Error: cipher list element "%s": %s`})
	// midge: a TLS option on a listener without certfile and keyfile. option
	TLSNeedsCert = def(&Entry{Key: "midge.tls_needs_cert", Level: Err, V20: "Error: %s needs both certfile and keyfile on the same listener (midge does not ignore TLS options)."})
)

// Websockets and unix sockets.
var (
	// port
	ListenWebsockets = def(&Entry{Key: "broker.listen_websockets", Level: Info, V20: "Opening websockets listen socket on port %d."})
	// port
	WebsocketsListenError = def(&Entry{Key: "ws.listen_error", Level: Err, V20: "Error: Unable to create websockets listener on port %d."})
	// file path
	HTTPServingFile = def(&Entry{Key: "ws.http_serving_file", Level: Debug, V20: `http serving file "%s".`})
	// http_dir
	HTTPDirOpen = def(&Entry{Key: "ws.http_dir_open", Level: Err, V20: `Error: Unable to open http dir "%s".`})
	// libwebsockets' own lines in Mosquitto; midge's HTTP server lines here
	WebsocketsLog = def(&Entry{Key: "ws.log", Level: Websockets, V20: "%s"})

	// path
	ListenUnix = def(&Entry{Key: "broker.listen_unix", Level: Info, V20: "Opening unix listen socket on path %s."})
	// path
	UnixPathTooLong = def(&Entry{Key: "unix.path_too_long", Level: Err, V20: `Error: Path to unix socket is too long "%s".`})
	// strerror
	UnixCreateError = def(&Entry{Key: "unix.create_error", Level: Err, V20: "Error creating unix socket: %s"})
	UnixBindError   = def(&Entry{Key: "unix.bind_error", Level: Err, V20: "Error binding unix socket: %s"})
	UnixListenError = def(&Entry{Key: "unix.listen_error", Level: Err, V20: "Error listening to unix socket: %s"})
)
