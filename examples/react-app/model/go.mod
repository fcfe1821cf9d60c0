module github.com/ankurah/ankurah-go/examples/react-app/model

go 1.25.8

replace github.com/ankurah/ankurah-go/core => ../../../core
