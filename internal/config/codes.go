package config

// Code names a catalogued line. Its value is the logcat key; the comment on
// each constant gives the arguments in order.
type Code string

// Errors that stop the parse (level ERR unless noted).
const (
	CodeEmptyValue        Code = "conf.empty_value"             // option name
	CodeInvalidValue      Code = "conf.invalid_value"           // option name, value
	CodeInvalidIntValue   Code = "conf.invalid_int_value"       // option name, number
	CodeDuplicateValue    Code = "conf.duplicate_value"         // option name
	CodeMalformedUTF8     Code = "conf.malformed_utf8"          // -
	CodeValueTooLong      Code = "conf.value_too_long"          // option name (midge: Mosquitto prints nothing)
	CodeUnknownVariable   Code = "conf.unknown_variable"        // option name
	CodeErrorFoundAt      Code = "conf.error_found_at"          // file, line
	CodeOpenFailed        Code = "conf.open_failed"             // file
	CodeIsDirectory       Code = "conf.is_directory"            // file
	CodeIncludeDirOpen    Code = "conf.include_dir_open"        // dir
	CodeInvalidPort       Code = "conf.invalid_port"            // number
	CodePort0NeedsPath    Code = "conf.port0_needs_path"        // -
	CodeLogFileDuplicate  Code = "conf.log_file_duplicate"      // -
	CodeLogFileEmpty      Code = "conf.log_file_empty"          // -
	CodeMaxQoSRange       Code = "conf.max_qos_range"           // -
	CodeMaxInflightRange  Code = "conf.max_inflight_range"      // -
	CodeMountPointFirst   Code = "conf.mount_point_first"       // -
	CodeInvalidMountPoint Code = "conf.invalid_mount_point"     // mount point
	CodePerListenerOrder  Code = "conf.per_listener_order"      // -
	CodeInvalidExpiration Code = "conf.invalid_expiration"      // -
	CodeInvalidSocketDom  Code = "conf.invalid_socket_domain"   // value
	CodeInvalidTopicAlias Code = "conf.invalid_max_topic_alias" // -
	CodeWSHeadersSize     Code = "conf.websockets_headers_size" // - (level WARNING, as Mosquitto logs it)
	CodeNotSupported      Code = "conf.not_supported"           // option description (midge)
)

// Notes: printed while parsing, the parse goes on.
const (
	CodeLoadingFile         Code = "conf.loading_file"                        // file (INFO)
	CodeDeprecatedPort      Code = "conf.deprecated_port"                     // - (NOTICE)
	CodeDeprecatedBind      Code = "conf.deprecated_bind_address"             // - (NOTICE)
	CodeDeprecatedDuplicate Code = "conf.deprecated_allow_duplicate_messages" // - (NOTICE)
	CodeDeprecatedPrefixes  Code = "conf.deprecated_clientid_prefixes"        // - (NOTICE)
	CodeMessageSizeLimit    Code = "conf.message_size_limit_note"             // - (NOTICE)
	CodeRetryInterval       Code = "conf.retry_interval"                      // - (WARNING)
	CodePortMultiple        Code = "conf.port_multiple"                       // - (WARNING)
	// Mosquitto prints these errors but carries on parsing, so they are Notes.
	CodeEmptyLogType        Code = "conf.empty_log_type"        // - (ERR)
	CodeEmptyMaxConnections Code = "conf.empty_max_connections" // - (ERR)
	CodeEmptyExpiration     Code = "conf.empty_expiration"      // - (ERR)
)

// Command line (ParseArgs), level ERR.
const (
	CodeUnknownOption Code = "args.unknown_option" // argument
	CodeArgBadPort    Code = "args.invalid_port"   // number
	CodeArgTooMany    Code = "args.too_many_ports" // limit
	CodeArgNoPort     Code = "args.no_port"        // -
	CodeArgNoConfig   Code = "args.no_config_file" // -
)

// AllCodes lists every Code this package can emit, for the catalog cross-check.
func AllCodes() []Code {
	return []Code{
		CodeEmptyValue, CodeInvalidValue, CodeInvalidIntValue, CodeDuplicateValue,
		CodeMalformedUTF8, CodeValueTooLong, CodeUnknownVariable, CodeErrorFoundAt,
		CodeOpenFailed, CodeIsDirectory, CodeIncludeDirOpen, CodeInvalidPort,
		CodePort0NeedsPath, CodeLogFileDuplicate, CodeLogFileEmpty, CodeMaxQoSRange,
		CodeMaxInflightRange, CodeMountPointFirst, CodeInvalidMountPoint,
		CodePerListenerOrder, CodeInvalidExpiration, CodeInvalidSocketDom,
		CodeInvalidTopicAlias, CodeWSHeadersSize, CodeNotSupported,
		CodeLoadingFile, CodeDeprecatedPort, CodeDeprecatedBind, CodeDeprecatedDuplicate,
		CodeDeprecatedPrefixes, CodeMessageSizeLimit, CodeRetryInterval, CodePortMultiple,
		CodeEmptyLogType, CodeEmptyMaxConnections, CodeEmptyExpiration,
		CodeUnknownOption, CodeArgBadPort, CodeArgTooMany, CodeArgNoPort, CodeArgNoConfig,
	}
}
