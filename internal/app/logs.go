package app

import "os"

func logsMain(args []string) int { os.Stderr.WriteString("midge logs: not built yet\n"); return 3 }
