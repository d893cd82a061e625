;;;; mcias-client.asd — Common Lisp client for MCIAS over its REST/JSON surface.

(asdf:defsystem "mcias-client"
  :description "Common Lisp client for MCIAS, the identity and access service (REST/JSON)"
  :version "0.1.0"
  :license "MIT"
  :depends-on ("drakma" "yason" "flexi-streams" "bordeaux-threads")
  :components ((:module "src" :components ((:file "client"))))
  :in-order-to ((asdf:test-op (asdf:test-op "mcias-client/tests"))))

(asdf:defsystem "mcias-client/tests"
  :description "The contract suite, run against a real mciassrv dev"
  :depends-on ("mcias-client" "fiveam")
  :components ((:module "tests" :components ((:file "contract"))))
  :perform (asdf:test-op (o c) (uiop:symbol-call :mcias-client/tests :run-all)))
