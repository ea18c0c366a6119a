package logcat

// Runtime lines: startup, connections, packets, disconnects. Texts are
// Mosquitto 2.0.20's (reference §1.2-§1.11, Appendix A) and, in V13, tag
// v1.3.5's (reference §1.18). Argument lists are documented per entry; a
// dialect may skip arguments with explicit indexes.

// Startup, reload and shutdown. Args in comments.
var (
	// version string; build date (1.3 only)
	Starting = def(&Entry{Key: "broker.starting", Level: Info,
		V20: "mosquitto version %[1]s starting",
		V13: []string{"mosquitto version %[1]s (build date %[2]s) starting"}})
	ConfigLoaded  = def(&Entry{Key: "broker.config_loaded", Level: Info, V20: "Config loaded from %s."})
	DefaultConfig = def(&Entry{Key: "broker.default_config", Level: Info, V20: "Using default config."})
	RootWarning   = def(&Entry{Key: "broker.root", Level: Warning, V20: "Warning: Mosquitto should not be run as root/administrator."})
	LocalOnly1    = def(&Entry{Key: "broker.local_only", Level: Warning, V20: "Starting in local only mode. Connections will only be possible from clients running on this machine.", V13: []string{}})
	LocalOnly2    = def(&Entry{Key: "broker.local_only_create", Level: Warning, V20: "Create a configuration file which defines a listener to allow remote access.", V13: []string{}})
	LocalOnly3    = def(&Entry{Key: "broker.local_only_docs", Level: Warning, V20: "For more details see https://mosquitto.org/documentation/authentication-methods/", V13: []string{}})
	// port
	ListenIPv4 = def(&Entry{Key: "broker.listen_ipv4", Level: Info, V20: "Opening ipv4 listen socket on port %d."})
	ListenIPv6 = def(&Entry{Key: "broker.listen_ipv6", Level: Info, V20: "Opening ipv6 listen socket on port %d."})
	// strerror text
	ListenError   = def(&Entry{Key: "broker.listen_error", Level: Err, V20: "Error: %s"})
	ListenWarning = def(&Entry{Key: "broker.listen_warning", Level: Warning, V20: "Warning: %s"})
	ListenCreate  = def(&Entry{Key: "broker.listen_create_error", Level: Err, V20: "Error creating listener: %s."})
	PrivPort1     = def(&Entry{Key: "broker.privileged_port", Level: Err, V20: "If you are trying to bind to a privileged port (<1024), try using setcap and do not start the broker as root:"})
	PrivPort2     = def(&Entry{Key: "broker.privileged_port_setcap", Level: Err, V20: "    sudo setcap 'CAP_NET_BIND_SERVICE=+ep /usr/sbin/mosquitto'"})
	NoListeners   = def(&Entry{Key: "broker.no_listeners", Level: Err, V20: "Error: Unable to start any listening sockets, exiting."})
	PidFileError  = def(&Entry{Key: "broker.pid_file_error", Level: Err, V20: "Error: Unable to write pid file."})
	LogFileError  = def(&Entry{Key: "broker.log_file_error", Level: Err, V20: "Error: Unable to open log file %s for writing."})
	// version
	Running     = def(&Entry{Key: "broker.running", Level: Info, V20: "mosquitto version %s running", V13: []string{}})
	Reloading   = def(&Entry{Key: "broker.reloading", Level: Info, V20: "Reloading config."})
	Terminating = def(&Entry{Key: "broker.terminating", Level: Info, V20: "mosquitto version %s terminating"})
	// user name
	DropPrivNoUser = def(&Entry{Key: "broker.drop_priv_no_user", Level: Err, V20: "Error: Unable to drop privileges to '%s' because this user does not exist."})
	DropPrivNobody = def(&Entry{Key: "broker.drop_priv_try_nobody", Level: Err, V20: "Warning: Unable to drop privileges to '%s' because this user does not exist. Trying 'nobody' instead."})
	DropPrivFailed = def(&Entry{Key: "broker.drop_priv_nobody_failed", Level: Err, V20: "Error: Unable to drop privileges to 'nobody'."})
	SetGroupsError = def(&Entry{Key: "broker.setgroups_error", Level: Err, V20: "Error setting groups whilst dropping privileges: %s."})
	SetGIDError    = def(&Entry{Key: "broker.setgid_error", Level: Err, V20: "Error setting gid whilst dropping privileges: %s."})
	SetUIDError    = def(&Entry{Key: "broker.setuid_error", Level: Err, V20: "Error setting uid whilst dropping privileges: %s."})
	ForkError      = def(&Entry{Key: "broker.fork_error", Level: Err, V20: "Error in fork: %s"})
	SetsidError    = def(&Entry{Key: "broker.setsid_error", Level: Err, V20: "Error in setsid: %s"})
)

// Accepting connections.
var (
	// peer ip, peer port, listener port
	NewConnection = def(&Entry{Key: "conn.new", Level: Notice, Gated: true,
		V20: "New connection from %[1]s:%[2]d on port %[3]d.",
		V13: []string{"New connection from %[1]s on port %[3]d."}})
	// peer ip
	MaxConnections = def(&Entry{Key: "conn.denied_max", Level: Notice, Gated: true, V20: "Client connection from %s denied: max_connections exceeded."})
	TooManyFiles   = def(&Entry{Key: "conn.emfile", Level: Warning, V20: `Unable to accept new connection, system socket count has been exceeded. Try increasing "ulimit -n" or equivalent.`, V13: []string{}})
	NoDelayFailed  = def(&Entry{Key: "conn.nodelay_failed", Level: Warning, V20: "Warning: Unable to set TCP_NODELAY."})
)

// CONNECT handling.
var (
	// peer ip, peer port, client id, protocol (1/2/5), clean, keepalive, username
	ConnectedUser = def(&Entry{Key: "connect.ok", Level: Notice, Gated: true,
		V20: "New client connected from %[1]s:%[2]d as %[3]s (p%[4]d, c%[5]d, k%[6]d, u'%[7]s').",
		V13: []string{"New client connected from %[1]s as %[3]s (c%[5]d, k%[6]d, u%[7]s)."}})
	Connected = def(&Entry{Key: "connect.ok_anon", Level: Notice, Gated: true,
		V20: "New client connected from %[1]s:%[2]d as %[3]s (p%[4]d, c%[5]d, k%[6]d).",
		V13: []string{"New client connected from %[1]s as %[3]s (c%[5]d, k%[6]d)."}})
	BridgeConnectedUser = def(&Entry{Key: "connect.bridge", Level: Notice, Gated: true,
		V20: "New bridge connected from %[1]s:%[2]d as %[3]s (p%[4]d, c%[5]d, k%[6]d, u'%[7]s').",
		V13: []string{"New bridge connected from %[1]s as %[3]s (c%[5]d, k%[6]d, u%[7]s)."}})
	BridgeConnected = def(&Entry{Key: "connect.bridge_anon", Level: Notice, Gated: true,
		V20: "New bridge connected from %[1]s:%[2]d as %[3]s (p%[4]d, c%[5]d, k%[6]d).",
		V13: []string{"New bridge connected from %[1]s as %[3]s (c%[5]d, k%[6]d)."}})
	// payload bytes, retain, qos
	WillSpecified = def(&Entry{Key: "connect.will", Level: Debug, Gated: true, V20: "Will message specified (%d bytes) (r%d, q%d).", V13: []string{}})
	// will topic
	WillTopic = def(&Entry{Key: "connect.will_topic", Level: Debug, Gated: true, V20: "\t%s", V13: []string{}})
	NoWill    = def(&Entry{Key: "connect.no_will", Level: Debug, Gated: true, V20: "No will message specified.", V13: []string{}})
	// client id (or <unknown>)
	MultipleConnect = def(&Entry{Key: "connect.multiple", Level: Notice, V20: "Bad client %s sending multiple CONNECT messages."})
	// raw level, peer ip
	BadProtocolVersion = def(&Entry{Key: "connect.bad_version", Level: Info, Gated: true, V20: "Invalid protocol version %d in CONNECT from %s."})
	// name, peer ip
	BadProtocolName = def(&Entry{Key: "connect.bad_protocol", Level: Info, Gated: true, V20: `Invalid protocol "%s" in CONNECT from %s.`})
	// peer ip
	BadWillQoS = def(&Entry{Key: "connect.bad_will_qos", Level: Info, V20: "Invalid Will QoS in CONNECT from %s."})
	// client id
	WillTooLarge = def(&Entry{Key: "connect.will_too_large", Level: Debug, V20: "Client %s connected with too large Will payload"})
	// client id
	PasswordNoUsername = def(&Entry{Key: "connect.password_no_username", Level: Err, V20: "Protocol error from %s: password without username, closing connection."})
	// client id
	Takeover = def(&Entry{Key: "connect.takeover", Level: Err, Gated: true, V20: "Client %s already connected, closing old connection."})
	// client id or ip, session present, return code
	SendConnack = def(&Entry{Key: "connack.send", Level: Debug,
		V20: "Sending CONNACK to %[1]s (%[2]d, %[3]d)",
		V13: []string{"Sending CONNACK to %[1]s (%[3]d)"}})
)

// SUBSCRIBE / UNSUBSCRIBE.
var (
	RecvSubscribe = def(&Entry{Key: "subscribe.recv", Level: Debug, V20: "Received SUBSCRIBE from %s"})
	// filter, qos
	SubscribeTopic = def(&Entry{Key: "subscribe.topic", Level: Debug, V20: "\t%s (QoS %d)"})
	// client id, granted qos, filter
	Subscribed   = def(&Entry{Key: "subscribe.granted", Level: Subscribe, V20: "%s %d %s"})
	SendSuback   = def(&Entry{Key: "suback.send", Level: Debug, V20: "Sending SUBACK to %s"})
	EmptySub     = def(&Entry{Key: "subscribe.empty", Level: Info, V20: "Empty subscription string from %s, disconnecting."})
	InvalidSub   = def(&Entry{Key: "subscribe.invalid", Level: Info, V20: "Invalid subscription string from %s, disconnecting."})
	InvalidSubQ  = def(&Entry{Key: "subscribe.invalid_qos", Level: Info, V20: "Invalid QoS in subscription command from %s, disconnecting."})
	RecvUnsub    = def(&Entry{Key: "unsubscribe.recv", Level: Debug, V20: "Received UNSUBSCRIBE from %s"})
	UnsubTopic   = def(&Entry{Key: "unsubscribe.topic", Level: Debug, V20: "\t%s"})
	Unsubscribed = def(&Entry{Key: "unsubscribe.done", Level: Unsubscribe, V20: "%s %s"})
	SendUnsuback = def(&Entry{Key: "unsuback.send", Level: Debug, V20: "Sending UNSUBACK to %s"})
	EmptyUnsub   = def(&Entry{Key: "unsubscribe.empty", Level: Info, V20: "Empty unsubscription string from %s, disconnecting."})
	InvalidUnsub = def(&Entry{Key: "unsubscribe.invalid", Level: Info, V20: "Invalid unsubscription string from %s, disconnecting."})
)

// PUBLISH. Args: client id, dup, qos, retain, mid, topic, payload bytes.
var (
	RecvPublish    = def(&Entry{Key: "publish.recv", Level: Debug, V20: "Received PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))"})
	DeniedPublish  = def(&Entry{Key: "publish.denied", Level: Debug, V20: "Denied PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))"})
	TooLarge       = def(&Entry{Key: "publish.too_large", Level: Debug, V20: "Dropped too large PUBLISH from %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))"})
	SendPublish    = def(&Entry{Key: "publish.send", Level: Debug, V20: "Sending PUBLISH to %s (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))"})
	InvalidDupQoS0 = def(&Entry{Key: "publish.invalid_dup", Level: Info, V20: "Invalid PUBLISH (QoS=0 and DUP=1) from %s, disconnecting."})
	InvalidPubQoS  = def(&Entry{Key: "publish.invalid_qos", Level: Info, V20: "Invalid QoS in PUBLISH from %s, disconnecting."})
	PubQoSTooHigh  = def(&Entry{Key: "publish.qos_too_high", Level: Info, V20: "Too high QoS in PUBLISH from %s, disconnecting."})
	// mid, client id
	ReusedMid = def(&Entry{Key: "publish.reused_mid", Level: Warning, V20: "Reused message ID %d from %s detected. Clearing from storage."})
	// client id, bytes
	DropOutgoingLarge = def(&Entry{Key: "publish.drop_outgoing_large", Level: Notice, V20: "Dropping too large outgoing PUBLISH for %s (%d bytes)"})
	// client id
	Dropping = def(&Entry{Key: "queue.dropping", Level: Notice, V20: "Outgoing messages are being dropped for client %s."})
)

// Acknowledgements. Args: client id, mid, reason code.
var (
	RecvPuback  = def(&Entry{Key: "puback.recv", Level: Debug, V20: "Received PUBACK from %[1]s (Mid: %[2]d, RC:%[3]d)", V13: []string{"Received PUBACK from %[1]s (Mid: %[2]d)"}})
	RecvPubcomp = def(&Entry{Key: "pubcomp.recv", Level: Debug, V20: "Received PUBCOMP from %[1]s (Mid: %[2]d, RC:%[3]d)", V13: []string{"Received PUBCOMP from %[1]s (Mid: %[2]d)"}})
	RecvPubrec  = def(&Entry{Key: "pubrec.recv", Level: Debug, V20: "Received PUBREC from %[1]s (Mid: %[2]d)"})
	RecvPubrel  = def(&Entry{Key: "pubrel.recv", Level: Debug, V20: "Received PUBREL from %[1]s (Mid: %[2]d)"})
	SendPuback  = def(&Entry{Key: "puback.send", Level: Debug, V20: "Sending PUBACK to %[1]s (m%[2]d, rc%[3]d)", V13: []string{"Sending PUBACK to %[1]s (Mid: %[2]d)"}})
	SendPubrec  = def(&Entry{Key: "pubrec.send", Level: Debug, V20: "Sending PUBREC to %[1]s (m%[2]d, rc%[3]d)", V13: []string{"Sending PUBREC to %[1]s (Mid: %[2]d)"}})
	SendPubrel  = def(&Entry{Key: "pubrel.send", Level: Debug, V20: "Sending PUBREL to %[1]s (m%[2]d)", V13: []string{"Sending PUBREL to %[1]s (Mid: %[2]d)"}})
	SendPubcomp = def(&Entry{Key: "pubcomp.send", Level: Debug, V20: "Sending PUBCOMP to %[1]s (m%[2]d)", V13: []string{"Sending PUBCOMP to %[1]s (Mid: %[2]d)"}})
	// packet name (PUBACK/PUBCOMP), client id, mid
	UnknownAck = def(&Entry{Key: "ack.unknown", Level: Warning, V20: "Warning: Received %s from %s for an unknown packet identifier %d.", V13: []string{}})
	// client id, mid
	UnknownPubrec = def(&Entry{Key: "pubrec.unknown", Level: Warning, V20: "Warning: Received PUBREC from %s for an unknown packet identifier %d.", V13: []string{}})
)

// PING, DISCONNECT and the reasons a connection ended. Args: client id.
var (
	RecvPingreq    = def(&Entry{Key: "pingreq.recv", Level: Debug, V20: "Received PINGREQ from %s"})
	SendPingresp   = def(&Entry{Key: "pingresp.send", Level: Debug, V20: "Sending PINGRESP to %s"})
	RecvDisconnect = def(&Entry{Key: "disconnect.recv", Level: Debug, V20: "Received DISCONNECT from %s"})

	// 1.3 printed nothing after a client DISCONNECT: the seed guide says that
	// event is the single "Received DISCONNECT" line.
	Disconnected = def(&Entry{Key: "client.disconnected", Level: Notice, Gated: true, V20: "Client %s disconnected.", V13: []string{}})
	Closed       = def(&Entry{Key: "client.closed", Level: Notice, Gated: true, V20: "Client %s closed its connection.",
		V13: []string{"Socket error on client %s, disconnecting."}})
	Malformed = def(&Entry{Key: "client.malformed", Level: Notice, Gated: true, V20: "Client %s disconnected due to malformed packet.",
		V13: []string{"Socket error on client %s, disconnecting."}})
	ProtocolError = def(&Entry{Key: "client.protocol_error", Level: Notice, Gated: true, V20: "Client %s disconnected due to protocol error.",
		V13: []string{"Socket error on client %s, disconnecting."}})
	NotAuthorised = def(&Entry{Key: "client.not_authorised", Level: Notice, Gated: true, V20: "Client %s disconnected, not authorised.",
		V13: []string{"Socket error on client %s, disconnecting."}})
	Timeout = def(&Entry{Key: "client.timeout", Level: Notice, Gated: true, V20: "Client %s has exceeded timeout, disconnecting.",
		V13: []string{"Client %[1]s has exceeded timeout, disconnecting.", "Socket error on client %[1]s, disconnecting."}})
	OversizePacket = def(&Entry{Key: "client.oversize_packet", Level: Notice, Gated: true, V20: "Client %s disconnected due to oversize packet.",
		V13: []string{"Socket error on client %s, disconnecting."}})
	OversizePayload = def(&Entry{Key: "client.oversize_payload", Level: Notice, Gated: true, V20: "Client %s disconnected due to oversize payload.",
		V13: []string{"Socket error on client %s, disconnecting."}})
	OutOfMemory = def(&Entry{Key: "client.out_of_memory", Level: Notice, Gated: true, V20: "Client %s disconnected due to out of memory.",
		V13: []string{"Socket error on client %s, disconnecting."}})
	NotSupported = def(&Entry{Key: "client.not_supported", Level: Notice, Gated: true, V20: "Client %s disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method).",
		V13: []string{"Socket error on client %s, disconnecting."}})
	AdminKick = def(&Entry{Key: "client.admin", Level: Notice, Gated: true, V20: "Client %s been disconnected by administrative action.",
		V13: []string{"Socket error on client %s, disconnecting."}})
	// client id, strerror
	SocketErrno = def(&Entry{Key: "client.errno", Level: Notice, Gated: true, V20: "Client %[1]s disconnected: %[2]s.",
		V13: []string{"Socket error on client %[1]s, disconnecting."}})
	// client id, mosquitto_strerror text
	BadSocket = def(&Entry{Key: "client.bad_socket", Level: Notice, Gated: true, V20: "Bad socket read/write on client %[1]s: %[2]s",
		V13: []string{"Socket error on client %[1]s, disconnecting."}})
	Expired = def(&Entry{Key: "client.expired", Level: Notice, V20: "Expiring client %s due to timeout.",
		V13: []string{"Expiring persistent client %s due to timeout."}})
)

// midge's own lines, where Mosquitto has none.
var (
	// config file path
	TestConfigOK = def(&Entry{Key: "midge.config_ok", Level: Info, V20: "Configuration file %s is valid."})
	// strerror
	DaemonError = def(&Entry{Key: "midge.daemon_error", Level: Err, V20: "Error whilst daemonising (%s): %s"})
	// error text
	ReloadFailed = def(&Entry{Key: "midge.reload_failed", Level: Err, V20: "Error: Unable to reload config, keeping the old one: %s"})
	// address as bound (metrics_address)
	MetricsListen = def(&Entry{Key: "midge.metrics_listen", Level: Info, V20: "Serving metrics and health checks on http://%s/."})
	// address as configured, strerror-like text
	MetricsListenError = def(&Entry{Key: "midge.metrics_listen_error", Level: Err, V20: "Error: Unable to open the metrics listener on %s: %s."})
)
