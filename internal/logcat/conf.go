package logcat

// Config-reading lines (reference §1.16, §2.1, Appendix A). Keys are the
// config.Code values that internal/config reports; arguments are listed
// there. Mosquitto prints these before logging is set up, so they have the
// same form in both dialects.
var confEntries = []*Entry{
	// Errors that stop the parse.
	def(&Entry{Key: "conf.empty_value", Level: Err, V20: "Error: Empty %s value in configuration."}),
	def(&Entry{Key: "conf.invalid_value", Level: Err, V20: "Error: Invalid %s value (%s)."}),
	def(&Entry{Key: "conf.invalid_int_value", Level: Err, V20: "Error: Invalid %s value (%d)."}),
	def(&Entry{Key: "conf.duplicate_value", Level: Err, V20: "Error: Duplicate %s value in configuration."}),
	def(&Entry{Key: "conf.malformed_utf8", Level: Err, V20: "Error: Malformed UTF-8 in configuration."}),
	// midge: Mosquitto fails silently on a string value over 65535 bytes.
	def(&Entry{Key: "conf.value_too_long", Level: Err, V20: "Error: %s value too long in configuration."}),
	def(&Entry{Key: "conf.unknown_variable", Level: Err, V20: `Error: Unknown configuration variable "%s".`}),
	def(&Entry{Key: "conf.error_found_at", Level: Err, V20: "Error found at %s:%d."}),
	def(&Entry{Key: "conf.open_failed", Level: Err, V20: "Error: Unable to open config file %s."}),
	def(&Entry{Key: "conf.is_directory", Level: Err, V20: "Error: Config file %s is a directory."}),
	def(&Entry{Key: "conf.include_dir_open", Level: Err, V20: "Error: Unable to open include_dir '%s'."}),
	def(&Entry{Key: "conf.invalid_port", Level: Err, V20: "Error: Invalid port value (%d)."}),
	def(&Entry{Key: "conf.port0_needs_path", Level: Err, V20: "Error: A listener with port 0 must provide a Unix socket path."}),
	def(&Entry{Key: "conf.log_file_duplicate", Level: Err, V20: `Error: Duplicate "log_dest file" value.`}),
	def(&Entry{Key: "conf.log_file_empty", Level: Err, V20: `Error: Empty "log_dest file" value in configuration.`}),
	def(&Entry{Key: "conf.max_qos_range", Level: Err, V20: "Error: max_qos must be between 0 and 2 inclusive."}),
	def(&Entry{Key: "conf.max_inflight_range", Level: Err, V20: "Error: max_inflight_messages must be <= 65535."}),
	def(&Entry{Key: "conf.mount_point_first", Level: Err, V20: "Error: You must use create a listener before using the mount_point option in the configuration file."}),
	def(&Entry{Key: "conf.invalid_mount_point", Level: Err, V20: "Error: Invalid mount_point '%s'. Does it contain a wildcard character?"}),
	def(&Entry{Key: "conf.per_listener_order", Level: Err, V20: "Error: per_listener_settings must be set before any other security settings."}),
	def(&Entry{Key: "conf.invalid_expiration", Level: Err, V20: "Error: Invalid persistent_client_expiration duration in configuration."}),
	def(&Entry{Key: "conf.invalid_socket_domain", Level: Err, V20: `Error: Invalid socket_domain value "%s" in configuration.`}),
	def(&Entry{Key: "conf.invalid_max_topic_alias", Level: Err, V20: "Error: Invalid max_topic_alias value in configuration."}),
	// Mosquitto logs this one at WARNING level despite its text.
	def(&Entry{Key: "conf.websockets_headers_size", Level: Warning, V20: "Error: Websockets headers size must be between 0 and 65535 inclusive."}),
	// midge: an option recognised but not implemented yet.
	def(&Entry{Key: "conf.not_supported", Level: Err, V20: "Error: The %s option is not supported by midge yet."}),

	// Printed while parsing; the parse goes on.
	def(&Entry{Key: "conf.loading_file", Level: Info, V20: "Loading config file %s"}),
	def(&Entry{Key: "conf.deprecated_port", Level: Notice, V20: "The 'port' option is now deprecated and will be removed in a future version. Please use 'listener' instead."}),
	def(&Entry{Key: "conf.deprecated_bind_address", Level: Notice, V20: "The 'bind_address' option is now deprecated and will be removed in a future version. The behaviour will default to true."}),
	def(&Entry{Key: "conf.deprecated_allow_duplicate_messages", Level: Notice, V20: "The 'allow_duplicate_messages' option is now deprecated and will be removed in a future version. The behaviour will default to true."}),
	def(&Entry{Key: "conf.deprecated_clientid_prefixes", Level: Notice, V20: "The 'clientid_prefixes' option is now deprecated and will be removed in a future version."}),
	def(&Entry{Key: "conf.message_size_limit_note", Level: Notice, V20: "Note: It is recommended to replace `message_size_limit` with `max_packet_size`."}),
	def(&Entry{Key: "conf.retry_interval", Level: Warning, V20: "Warning: The retry_interval option is no longer available."}),
	def(&Entry{Key: "conf.port_multiple", Level: Warning, V20: "Warning: Default listener port specified multiple times. Only the latest will be used."}),
	def(&Entry{Key: "conf.empty_log_type", Level: Err, V20: "Error: Empty log_type value in configuration."}),
	def(&Entry{Key: "conf.empty_max_connections", Level: Err, V20: "Error: Empty max_connections value in configuration."}),
	def(&Entry{Key: "conf.empty_expiration", Level: Err, V20: "Error: Empty persistent_client_expiration value in configuration."}),

	// Command line. args.unknown_option goes to stderr without a timestamp.
	def(&Entry{Key: "args.unknown_option", Level: Err, V20: "Error: Unknown option '%s'."}),
	def(&Entry{Key: "args.invalid_port", Level: Err, V20: "Error: Invalid port specified (%d)."}),
	def(&Entry{Key: "args.too_many_ports", Level: Err, V20: "Error: Only %d ports can be specified on the command line."}),
	def(&Entry{Key: "args.no_port", Level: Err, V20: "Error: -p argument given, but no port specified."}),
	def(&Entry{Key: "args.no_config_file", Level: Err, V20: "Error: -c argument given, but no config file specified."}),
}
