;;;; sbcl --script clients/lisp/run-tests.lisp — loads the system from this
;;;; directory (Debian's cl-* packages supply the dependencies) and runs the
;;;; FiveAM suite; the exit status says whether every check passed.

(require :asdf)
(let ((here (make-pathname :name nil :type nil :defaults *load-truename*)))
  (asdf:initialize-source-registry
   `(:source-registry (:directory ,here) :inherit-configuration)))
(handler-bind ((warning #'muffle-warning))
  (asdf:load-system "mcias-client/tests"))
(uiop:quit (if (uiop:symbol-call :mcias-client/tests :run-all) 0 1))
