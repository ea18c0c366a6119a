package logcat

// Password file, ACL file and file-permission lines (reference §1.12,
// Appendix A). Keys are the event names midge logs already parsed these
// lines under (internal/logread's appendix forms), so `midge logs` output
// does not change. Mosquitto 1.3 printed the same texts where it had them.
var (
	// Password file. Args: file path.
	PwfileOpen     = def(&Entry{Key: "error.unable_open_pwfile", Level: Err, V20: `Error: Unable to open pwfile "%s".`})
	PwfileOpening  = def(&Entry{Key: "error.opening_password_file", Level: Err, V20: `Error opening password file "%s".`})
	PwUserTooLong  = def(&Entry{Key: "notice.invalid_line_password_file_username", Level: Notice, V20: "Warning: Invalid line in password file '%s', username too long."})
	PwPassTooLong  = def(&Entry{Key: "notice.invalid_line_password_file_password", Level: Notice, V20: "Warning: Invalid line in password file '%s', password too long."})
	PwInvalidLine  = def(&Entry{Key: "notice.invalid_line_password_file", Level: Notice, V20: "Warning: Invalid line in password file '%s': %s"})
	PwMissingHash  = def(&Entry{Key: "error.missing_password_hash_user_removing", Level: Err, V20: "Error: Missing password hash for user %s, removing entry."})
	PwInvalidHash  = def(&Entry{Key: "error.invalid_password_hash_user_removing", Level: Err, V20: "Error: Invalid password hash for user %s, removing entry."})
	PwInvalidType  = def(&Entry{Key: "error.invalid_password_hash_type_user", Level: Err, V20: "Error: Invalid password hash type for user %s, removing entry."})
	PwInvalidIter  = def(&Entry{Key: "error.invalid_hash_iterations_user_removing", Level: Err, V20: "Error: Invalid hash iterations for user %s, removing entry."})
	PwDecodeHash   = def(&Entry{Key: "error.unable_decode_password_user_removing", Level: Err, V20: "Error: Unable to decode password for user %s, removing entry."})
	PwDecodeSalt   = def(&Entry{Key: "error.unable_decode_password_salt_user", Level: Err, V20: "Error: Unable to decode password salt for user %s, removing entry."})
	ACLOpening     = def(&Entry{Key: "error.opening_acl_file", Level: Err, V20: `Error opening acl file "%s".`})
	ACLOpen        = def(&Entry{Key: "error.unable_open_acl_file", Level: Err, V20: `Error: Unable to open acl_file "%s".`})
	ACLEmptyTopic  = def(&Entry{Key: "error.empty_topic_acl_file", Level: Err, V20: `Error: Empty topic in acl_file "%s".`})
	ACLBadAccess   = def(&Entry{Key: "error.invalid_topic_access_type_acl", Level: Err, V20: `Error: Invalid topic access type "%s" in acl_file "%s".`})
	ACLBadTopic    = def(&Entry{Key: "error.invalid_acl_topic_acl_file", Level: Err, V20: `Error: Invalid ACL topic "%s" in acl_file "%s".`})
	ACLNoUsername  = def(&Entry{Key: "error.missing_username_acl_file", Level: Err, V20: `Error: Missing username in acl_file "%s".`})
	ACLInvalidLine = def(&Entry{Key: "error.invalid_line_acl_file", Level: Err, V20: `Error: Invalid line in acl_file "%s": %s.`})
	// pattern text (Mosquitto's source escapes the percent signs)
	ACLPatternNoSub = def(&Entry{Key: "warning.acl_pattern_does_not_contain", Level: Warning, V20: "Warning: ACL pattern '%s' does not contain '%%c' or '%%u'."})
	// username / client id; logged on every check that reaches the patterns
	ACLDangerousUser = def(&Entry{Key: "acl.dangerous_username", Level: Notice, V20: `ACL denying access to client with dangerous username "%s"`})
	ACLDangerousID   = def(&Entry{Key: "acl.dangerous_client_id", Level: Notice, V20: `ACL denying access to client with dangerous client id "%s"`})

	// File checks made when a password or ACL file is opened (2.0.16+).
	// Args: path, path. One log call: the second line has no timestamp.
	FileWorldReadable = def(&Entry{Key: "warning.file_world_readable_permissions_future", Level: Warning,
		V20: "Warning: File %[1]s has world readable permissions. Future versions will refuse to load this file.\nTo fix this, use `chmod 0700 %[2]s`."})
	// path, user name, user name, path (no space after the first period, as in the source)
	FileOwner = def(&Entry{Key: "warning.file_owner_not_future_versions", Level: Warning,
		V20: "Warning: File %s owner is not %s. Future versions will refuse to load this file.To fix this, use `chown %s %s`."})
	// path, group name
	FileGroup = def(&Entry{Key: "warning.file_group_not_future_versions", Level: Warning,
		V20: "Warning: File %s group is not %s. Future versions will refuse to load this file."})
	// path
	NotAFile = def(&Entry{Key: "error.not_file", Level: Err, V20: "Error: %s is not a file."})
)
