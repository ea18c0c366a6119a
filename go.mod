module github.com/midgemq/midge

go 1.26.8
